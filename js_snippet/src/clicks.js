// Clicks worth recording without code: outbound links, downloads, elements marked with
// `data-cl-event`, and personalized slots. `data-cl-event="add_to_cart"` (or remove_from_cart)
// with data-cl-sku/-name/-category/-price/-currency/-quantity records the cart event itself.

import { href, track } from './events.js'
import { decisionOf } from './personalize.js'

const DOWNLOAD = /\.(pdf|zip|rar|7z|gz|dmg|exe|msi|apk|deb|rpm|iso|csv|xlsx?|docx?|pptx?|od[st]|epub|txt|mp[34]|mov|avi|wav)$/i
const number = (v) => (v ? +v : undefined) // dataset values are strings

export function click(e) {
  if (e.type == 'auxclick' && e.button != 1) return // only the middle button opens a link
  const target = e.target
  if (!target || !target.closest) return
  const slot = target.closest('[data-cl-slot]')
  const decision = slot && decisionOf(slot)
  if (decision) track('personalization_click', decision)
  const el = target.closest('a[href],area[href],[data-cl-event]')
  if (!el) return
  const name = el.getAttribute('data-cl-event')
  const d = el.dataset || {}
  if (name == 'add_to_cart' || name == 'remove_from_cart') {
    return track(name, {
      sku: d.clSku,
      name: d.clName,
      category: d.clCategory,
      price: number(d.clPrice),
      currency: d.clCurrency,
      quantity: number(d.clQuantity),
    })
  }
  const url = /^https?:/.test(el.href) ? el.href.slice(0, 2048) : undefined // not SVG, mailto: or tel:
  const kind =
    name != null
      ? 'element'
      : !url
        ? ''
        : el.hasAttribute('download') || DOWNLOAD.test(el.pathname)
          ? 'download'
          : el.host != location.host
            ? 'outbound'
            : ''
  if (!kind) return
  track('click', {
    url,
    text: el.textContent.replace(/\s+/g, ' ').trim().slice(0, 256) || undefined,
    kind,
    element_id: (name || el.id || '').slice(0, 128) || undefined,
  })
}
