package baseline

import "testing"

func TestArgShape(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"-g", "daemon off;"}, "-g daemon off;"},
		{[]string{"--port=8080", "--config", "/etc/app.yaml"}, "--port=<n> --config /etc/app.yaml"},
		{[]string{"-c", "sleep", "30"}, "-c sleep <n>"},
		{[]string{"http://10.0.0.1:8080/healthz"}, "<url>"},
		{[]string{"/tmp/x9f2a/run.sh"}, "<tmp>"},
		{[]string{"f47ac10b-58cc-4372-a567-0e02b2c3d479"}, "<id>"},
		{[]string{"10.96.0.10", "10.0.0.1:53", "::1"}, "<ip> <ip> <ip>"},
		{[]string{"deadbeefcafe"}, "<id>"},
		{[]string{"status"}, "status"},
		{[]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"}, "a b c d e f g h i j k l …"},
	}
	for _, tt := range tests {
		if got := ArgShape(tt.args); got != tt.want {
			t.Errorf("ArgShape(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
	// Invocations that differ only in ids share a shape.
	if ArgShape([]string{"--id", "1234"}) != ArgShape([]string{"--id", "98765"}) {
		t.Error("numbers must not split shapes")
	}
}
