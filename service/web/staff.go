package web

// staffRoutes adds the staff pages (business support, chair). D2 owns this
// file: register pages with s.staffPage("GET /today", s.today,
// service.RoleBusinessSupport, ...) (see README-dev.md).
func (s *Server) staffRoutes() {}
