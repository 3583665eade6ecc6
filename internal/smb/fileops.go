package smb

// The state the file operations (CREATE and what follows) keep with each
// connection, session and tree. These types belong to the files that
// implement those commands: they add fields here and fill in the release
// methods, which the framework calls when the object goes away (connection
// closed, session logged off or expired, tree disconnected), after its
// pending requests were cancelled.

type connOps struct{}

func (*connOps) release(*Conn) {}

type sessionOps struct{}

func (*sessionOps) release(*Session) {}

type treeOps struct{}

func (*treeOps) release(*Tree) {}
