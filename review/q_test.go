package review_test
import ("fmt";"testing";"time";"github.com/incidentbot/incidentbot/incident")
func TestQuad(t *testing.T){ c := furniture(t); svc,_ := c.Service("bedroom"); t0 := time.Date(2026,11,17,10,0,0,0,time.UTC)
 inc := must(incident.Declare(c.Policy, 1, incident.Declaration{Title:"t",Service:svc,Actor:"U1",Impact:c.Shares.Impact(incident.ImpactPartial)}, t0))
 start := time.Now()
 for i:=0;i<20000;i++{ at := t0.Add(time.Duration(i)*time.Second); must(inc.Record(c.Policy, at, incident.Event{Kind: incident.EventMessage, Actor:"U1", Key: fmt.Sprint(i), Text:"hi", At: at})) }
 fmt.Println("20k Record calls:", time.Since(start)) }
