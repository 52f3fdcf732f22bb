package web

type codeLimiter struct{}

func newCodeLimiter() *codeLimiter { return &codeLimiter{} }

func (s *Server) partnerRoutes() {}
