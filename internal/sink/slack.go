package sink

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/kubedelta/kubedelta/internal/detect"
)

// slack posts to a Slack-compatible incoming webhook (Slack, Mattermost,
// Rocket.Chat): {"text": …, "blocks": […]}. text is the notification and
// fallback (one compact line per alert); blocks are the formatted message.
type slack struct {
	name string
	post *poster
}

func (s *slack) Name() string { return s.name }

// Slack's documented limits: 50 blocks per message, 150 characters in a
// header's text, 3000 in a section's; text beyond 40,000 is truncated.
const (
	slackMaxSections = 45
	slackMaxHeader   = 150
	slackMaxSection  = 3000
	slackMaxText     = 12000
)

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

func (s *slack) Send(ctx context.Context, alerts []detect.Alert) error {
	body, err := marshalJSON(slackPayload(alerts))
	if err != nil {
		return err
	}
	return s.post.post(ctx, body)
}

func slackPayload(alerts []detect.Alert) slackMessage {
	title := "kubedelta: " + strconv.Itoa(len(alerts)) + " new alert"
	if len(alerts) != 1 {
		title += "s"
	}
	var text strings.Builder
	text.WriteString(title)
	msg := slackMessage{Blocks: []slackBlock{{
		Type: "header",
		Text: &slackText{Type: "plain_text", Text: truncate(title, slackMaxHeader)},
	}}}
	for i := range alerts {
		al := &alerts[i]
		line := "\n" + slackLine(al)
		if text.Len()+len(line) > slackMaxText {
			fmt.Fprintf(&text, "\n… and %d more", len(alerts)-i)
			break
		}
		text.WriteString(line)
	}
	msg.Text = text.String()
	for i := range alerts {
		if i == slackMaxSections {
			msg.Blocks = append(msg.Blocks, slackBlock{
				Type:     "context",
				Elements: []slackText{{Type: "mrkdwn", Text: fmt.Sprintf("… and %d more: see kubedelta's alert API", len(alerts)-i)}},
			})
			break
		}
		msg.Blocks = append(msg.Blocks, slackBlock{
			Type: "section",
			Text: &slackText{Type: "mrkdwn", Text: truncate(slackSection(&alerts[i]), slackMaxSection)},
		})
	}
	return msg
}

// slackLine is the compact form: [HIGH] rule: message (where, who, ×n).
func slackLine(al *detect.Alert) string {
	var b strings.Builder
	b.WriteString("[" + strings.ToUpper(al.Severity.String()) + "] " + slackEscape(al.Rule) + ": " + slackEscape(oneLine(al.Message)))
	if ctx := slackContext(al); ctx != "" {
		b.WriteString(" (" + ctx + ")")
	}
	return b.String()
}

// slackSection is the block form: bold severity, rule in code, message,
// then a second line of context and the alert's ID for acknowledging it.
func slackSection(al *detect.Alert) string {
	var b strings.Builder
	b.WriteString("*" + strings.ToUpper(al.Severity.String()) + "* `" + strings.ReplaceAll(slackEscape(al.Rule), "`", "'") + "` " + slackEscape(al.Message))
	ctx := slackContext(al)
	if al.ID != "" {
		if ctx != "" {
			ctx += ", "
		}
		ctx += "id " + slackEscape(al.ID)
	}
	if ctx != "" {
		b.WriteString("\n" + ctx)
	}
	return b.String()
}

func slackContext(al *detect.Alert) string {
	var parts []string
	switch {
	case al.Namespace != "" && al.Workload != "":
		parts = append(parts, slackEscape(al.Namespace+"/"+al.Workload))
	case al.Workload != "":
		parts = append(parts, slackEscape(al.Workload))
	case al.Namespace != "":
		parts = append(parts, "ns "+slackEscape(al.Namespace))
	}
	if al.Subject != "" {
		parts = append(parts, "by "+slackEscape(al.Subject))
	}
	if al.Count > 1 {
		parts = append(parts, "×"+strconv.FormatUint(al.Count, 10))
	}
	return strings.Join(parts, ", ")
}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackEscape escapes the three characters Slack's mrkdwn gives meaning to
// (&, <, >): user names and messages then cannot form links or mentions
// such as <!channel>.
func slackEscape(s string) string { return slackEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD")) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
