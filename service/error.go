package service

import "github.com/convene/convene/service/errs"

// The domain speaks errs, the one error type; these names let its code say
// Error, EINVALID and Invalid without the package prefix.
type (
	Error      = errs.Error
	FieldError = errs.FieldError
	Fields     = errs.Fields
	Conflict   = errs.Conflict
)

// Error codes (see errs).
const (
	EINVALID      = errs.EINVALID
	EMALFORMED    = errs.EMALFORMED
	ENOTFOUND     = errs.ENOTFOUND
	ECONFLICT     = errs.ECONFLICT
	EFORBIDDEN    = errs.EFORBIDDEN
	EUNAUTHORIZED = errs.EUNAUTHORIZED
	ETOOLARGE     = errs.ETOOLARGE
	EUNAVAILABLE  = errs.EUNAVAILABLE
	EINTERNAL     = errs.EINTERNAL
	EPRECONDITION = errs.EPRECONDITION
	EUNSUPPORTED  = errs.EUNSUPPORTED
	ETOOMANY      = errs.ETOOMANY
)

// Constructors and accessors (see errs).
var (
	Errorf       = errs.Errorf
	Internal     = errs.Internal
	Invalid      = errs.Invalid
	ErrorCode    = errs.Code
	ErrorMessage = errs.Message
)
