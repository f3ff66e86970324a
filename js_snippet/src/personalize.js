// Personalized slots. The decision API is asked once for all of a page's slots; if it has not
// answered within `timeout` ms the default content stays and a late answer is dropped, so the
// page never flickers later than the timeout. A personalization_shown event records the decision so
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
export const decide = (slot, render) => ask([slot], [render])

// One request for every slot in `names` (?slots=a,b answers {decisions: [...]} in that order);
// each `renders[i](decision | null)` is called exactly once, at the answer or the timeout.
function ask(names, renders) {
  const api = config.api || config.collector
  const one = names.length < 2
  let done = false
  const finish = (list) => {
    if (done) return
    done = true
    clearTimeout(timer)
    renders.forEach((render, i) => {
      const decision = list && list[i] && list[i].decision_id ? list[i] : null
      let shown = false
      try {
        shown = render(decision) !== false
      } catch (e) {
        ignore('render', e)
      }
      if (decision && shown) track('personalization_shown', decision)
    })
  }
  const timer = setTimeout(() => finish(ignore('timeout', names)), config.timeout)
  if (silent() || !api || !window.fetch) return finish()
  // If fetch throws, the timeout still calls finish.
  fetch(api + '/v1/decide?slot' + (one ? '=' : 's=') + names.map(encodeURIComponent), { credentials: credentials() })
    .then((r) => (r.ok && r.url.indexOf(api + '/') == 0 ? r.json() : Promise.reject(r.status)))
    .then(
      (d) => finish(one ? [d] : d && d.decisions),
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

/**
 * Fill every `[data-cl-slot]` not yet handled, all in one request. A slot the site's server has
 * already rendered carries its decision in `data-cl-decision`: it is recorded, not asked again.
 */
export function slots() {
  const els = []
  document.querySelectorAll('[data-cl-slot]').forEach((el) => {
    if (seen.has(el)) return
    seen.add(el)
    const given = el.getAttribute('data-cl-decision')
    if (!given) return els.push(el)
    try {
      const d = JSON.parse(given)
      decisions.set(el, d)
      track('personalization_shown', d)
    } catch (e) {
      ignore('decide', e)
    }
  })
  if (els[0])
    ask(
      els.map((el) => el.getAttribute('data-cl-slot')),
      els.map((el) => (d) => {
        if (!d) return
        const content = d.content || {}
        if (typeof content.html == 'string') el.replaceChildren(clean(content.html))
        else if (typeof content.text == 'string') el.textContent = content.text
        decisions.set(el, d)
      })
    )
}
