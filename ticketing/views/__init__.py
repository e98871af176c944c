"""The server-rendered pages, one module per topic; each view calls a service or a selector."""
