// Personalized slots. The decision API is asked once per slot; if it has not answered within
// `timeout` ms the default content stays and a late answer is dropped, so the page never
// flickers later than the timeout. A personalization_shown event records the decision so
// uplift against the holdout can be measured; clicks inside a slot record personalization_click.
//
// Declarative slots take `content.html` only from the configured API origin and pass it through
// a small sanitizer (no scripts, frames, forms, event handlers or javascript: URLs): content
// comes from the operator's rules, and the snippet still does not trust it with the page.

import { config } from './config.js'
import { track } from './events.js'
import { ignore } from './guard.js'
import { credentials, silent } from './privacy.js'

const decisions = new WeakMap() // slot element -> decision shown in it
const seen = new WeakSet()

export const decisionOf = (el) => decisions.get(el)

/** Ask for `slot`'s decision; `render(decision | null)` is called exactly once. */
export function decide(slot, render) {
  const api = config.api || config.collector
  let done = false
  const finish = (decision) => {
    if (done) return
    done = true
    clearTimeout(timer)
    let shown = false
    try {
      shown = render(decision || null) !== false
    } catch (e) {
      ignore('render', e)
    }
    if (decision && shown) track('personalization_shown', decision)
  }
  const timer = setTimeout(() => finish(ignore('timeout', slot)), config.timeout)
  if (silent() || !api || !window.fetch) return finish(null)
  // If fetch throws, the timeout still calls render(null).
  fetch(api + '/v1/decide?slot=' + encodeURIComponent(slot), { credentials: credentials() })
    .then((r) => (r.ok && r.url.indexOf(api + '/') == 0 ? r.json() : Promise.reject(r.status)))
    .then(
      (d) => finish(d && d.decision_id ? d : null),
      (e) => finish(ignore('decide', e))
    )
}

function clean(html) {
  const template = document.createElement('template')
  template.innerHTML = html
  template.content.querySelectorAll('*').forEach((n) =>
    /^(script|style|i?frame|object|embed|link|meta|base|form)$/i.test(n.tagName)
      ? n.remove()
      : [...n.attributes].forEach(
          (a) =>
            (/^on/i.test(a.name) || /^(java|vb)script:/i.test(a.value.replace(/[\s\0-\x1f]/g, ''))) &&
            n.removeAttribute(a.name)
        )
  )
  return template.content
}

/** Fill every `[data-cl-slot]` not yet handled. */
export function slots() {
  document.querySelectorAll('[data-cl-slot]').forEach((el) => {
    if (seen.has(el)) return
    seen.add(el)
    decide(el.getAttribute('data-cl-slot'), (d) => {
      if (!d) return
      const content = d.content || {}
      if (typeof content.html == 'string') el.replaceChildren(clean(content.html))
      else if (typeof content.text == 'string') el.textContent = content.text
      decisions.set(el, d)
    })
  })
}
