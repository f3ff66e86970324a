// Builds contract-v1 events (tracker/contract/spec.py) from commands and hands them to the queue.

import { ignore } from './guard.js'
import { sessionId, userId, uuid } from './identity.js'
import { consentField, denied, silent } from './privacy.js'
import { enqueue } from './transport.js'

// The contract field that carries a command's payload, by event type.
const FIELD = {
  product_view: 'product',
  add_to_cart: 'product',
  remove_from_cart: 'product',
  begin_checkout: 'products',
  purchase: 'order',
  refund: 'order',
  search: 'query',
  click: 'target',
  identify: 'user_id',
  personalization_shown: 'decision',
  personalization_click: 'decision',
}

export const iso = (ms) => new Date(ms).toISOString()
export const href = () => location.href.slice(0, 2048)

/** Only the decision fields the contract knows; the API response also carries content. */
const pick = (d) => d && { decision_id: d.decision_id, slot: d.slot, variant: d.variant, arm: d.arm }

/**
 * Record one event. Payload mapping: `track('search', 'shoes')` or `{query: 'shoes'}`;
 * `track('add_to_cart', {sku, ...})`; unknown types become `custom` events named after them.
 */
export function track(type, props) {
  if (silent()) return ignore('denied', type)
  if (!type || typeof type != 'string') return ignore('no type', type)
  const now = Date.now()
  const event = { schema_version: 1, event_id: uuid(), event_type: type, client_ts: iso(now), url: href() }
  const field = FIELD[type]
  if (field == 'decision') event.decision = pick(props)
  else if (field) event[field] = props && props[field] !== undefined ? props[field] : props
  else if (/^(page_view|page_ping|custom)$/.test(type)) Object.assign(event, props)
  else {
    event.event_type = 'custom'
    event.name = type.slice(0, 128)
    if (props) event.properties = props
  }
  if (denied()) {
    if (type == 'identify') return ignore('denied', type)
    delete event.user_id
  } else {
    event.session_id = sessionId(now)
    if (userId()) event.user_id = userId()
  }
  const consent = consentField()
  if (consent) event.consent = consent
  enqueue(event)
}
