package smb

import (
	"context"
	"strings"

	"github.com/tandemfs/tandem/internal/fs"
)

// Application instance ids (MS-SMB2 3.3.5.9.13): a clustered application
// that fails over to another node opens its files again from there under
// the id it used before, and the server closes the opens the application
// left on the old node, connected or disconnected, instead of letting
// them stand in the way (no break is sent for them). The open closed must
// be of the same file, share and user, made under the same id by another
// client (ClientGuid).

// closeAppInstance closes the opens of file h that another client made
// under the request's application instance id.
func (s *Server) closeAppInstance(ctx context.Context, r *Request, q *createRequest, h fs.Handle) {
	id := q.ctx.appInstance
	if id == ([16]byte{}) || r.Conn.dialect < Dialect300 {
		return
	}
	client, uid, share := r.Conn.lockClient(), r.Caller().UID, r.Tree.ShareName()
	var live, gone []*open
	ops := &s.ops
	ops.mu.Lock()
	for _, o := range ops.opens {
		if o.appInstance != id || o.h != h || o.stream != "" || o.owner.Host == client || o.caller.UID != uid {
			continue
		}
		if o.disconnected() {
			if strings.EqualFold(o.dur.share, share) {
				gone = append(gone, o)
			}
		} else if t := o.tree.Load(); t != nil && strings.EqualFold(t.ShareName(), share) {
			live = append(live, o)
		}
	}
	gone = s.claimDisconnected(gone)
	ops.mu.Unlock()
	for _, o := range gone {
		s.closeDurable(o)
	}
	for _, o := range live {
		if o.tree.Load().ops.remove(o.id) == o {
			s.log.Debug("smb: open closed for its application instance", "file", o.key(), "id", o.id.Persistent)
			o.close(ctx)
		}
	}
}
