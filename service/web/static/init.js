// Starts GOV.UK Frontend's components. A static file, not an inline script,
// so the Content-Security-Policy can forbid inline script.
import { initAll } from '/assets/govuk-frontend.min.js'

document.body.classList.add('js-enabled')
if ('noModule' in HTMLScriptElement.prototype) {
  document.body.classList.add('govuk-frontend-supported')
  initAll()
}
