// Delivery: batch, send, retry, persist. Every event is sent once after a success and never
// silently dropped, except past the queue bound (oldest first), on a final 4xx answer (resending
// cannot fix it) or under consent 'none'.
//
// While the page lives, batches go with fetch (keepalive, text/plain so there is no CORS
// preflight) because only fetch reports the outcome: a network error, 408, 429 or 5xx puts the
// batch back at the head of the queue and retries with exponential backoff (2 s .. 60 s), or at
// once when the browser comes back online. When the page is hidden or unloads, what is left goes
// with sendBeacon; if the browser is offline, the collector is failing or the beacon is refused,
// the events are kept in localStorage and the next page (or this one, when visible again) sends
// them first.

import { config } from './config.js'
import { guard, ignore } from './guard.js'
import { credentials, denied } from './privacy.js'
import { load, save, QUEUE } from './storage.js'

let pending = []
let busy = false
let fails = 0
let timer = 0
let leaving = false

const endpoint = () => config.collector + '/v1/events'
const tick = guard(flush)

/** The request body; sent_ts is stamped now, at send time, for skew correction. */
const body = (batch) => JSON.stringify({ events: batch.map((e) => ((e.sent_ts = new Date().toISOString()), e)) })

function bound() {
  const extra = pending.length - config.queue
  if (extra > 0) ignore('queue full', pending.splice(0, extra))
}

function schedule(ms) {
  if (timer && ms) return
  clearTimeout(timer)
  timer = setTimeout(tick, ms)
}

export function enqueue(event) {
  // A copy: the page may mutate what it passed in; and an unserialisable payload fails here,
  // alone, instead of taking a whole batch down at send time.
  pending.push(JSON.parse(JSON.stringify(event)))
  bound()
  schedule(pending.length >= config.batch ? 0 : config.delay)
}

export function flush() {
  clearTimeout(timer)
  timer = 0
  adopt()
  if (busy || !pending.length) return
  if (navigator.onLine === false) return ignore('offline')
  if (!config.collector) return ignore('no collector')
  const batch = pending.splice(0, config.batch)
  const data = body(batch)
  const keepalive = data.length < 5e4 // the browser's keepalive quota is 64 KB in flight
  let status = 0
  busy = true
  new Promise((resolve) => resolve(fetch(endpoint(), { method: 'POST', body: data, keepalive, credentials: credentials() })))
    .then((response) => {
      status = response.status
      if (config.debug) response.text().then((text) => ignore('HTTP ' + status, text))
    })
    .catch(ignore)
    .then(() => {
      busy = false
      // No answer after pagehide: the browser rejects the page's promise but still delivers a
      // keepalive request, like a beacon; sending it again from the next page would double it.
      const retry = status ? status == 408 || status == 429 || status >= 500 : !(leaving && keepalive)
      if (retry) {
        pending = batch.concat(pending)
        bound()
        fails++
        if (leaving) persist()
      } else fails = 0
      if (pending.length) schedule(fails ? Math.min(1e3 << Math.min(fails, 6), 6e4) : 1)
    })
}

/** pagehide (true) or pageshow (false): whether the page is being left. */
export function leave(value) {
  leaving = value
  if (value) hide()
}

/** Page hidden or unloading: beacon what is left, keep the rest for later. */
export function hide() {
  clearTimeout(timer)
  timer = 0
  if (navigator.onLine !== false && !fails && config.collector) {
    while (pending.length && beacon(body(pending.slice(0, config.batch)))) pending.splice(0, config.batch)
  }
  persist()
}

function beacon(data) {
  try {
    // sendBeacon always carries cookies, so a denied page sends with fetch and no credentials.
    if (!denied() && navigator.sendBeacon) return navigator.sendBeacon(endpoint(), data)
    fetch(endpoint(), { method: 'POST', body: data, keepalive: true, credentials: credentials() }).catch(ignore)
    return true
  } catch (e) {
    ignore('beacon', e)
  }
}

function stored() {
  try {
    const queue = JSON.parse(load(QUEUE))
    return Array.isArray(queue) ? queue : []
  } catch (e) {
    return []
  }
}

/** Move unsent events to localStorage (never under denied consent: nothing is kept then). */
function persist() {
  if (!pending.length || denied()) return
  const queue = stored().concat(pending)
  if (queue.length > config.queue) ignore('queue full', queue.splice(0, queue.length - config.queue))
  if (save(QUEUE, JSON.stringify(queue))) pending = []
}

/**
 * Take over events an earlier page (or this one while hidden) could not send. Called at boot,
 * before each send and when another page writes the queue: Chrome may run the previous page's
 * pagehide after this page has started, so its events can land in storage after our boot.
 * Only a visible page adopts. A hidden one may be frozen in the back/forward cache (Chrome even
 * fires `online` at such a page) or discarded without another pagehide.
 */
export function adopt() {
  const queue = document.hidden ? [] : stored()
  if (queue.length && save(QUEUE)) {
    pending = queue.concat(pending)
    bound()
  }
}

/** Page visible again, or another page stored events: take them over and send now. */
export function resume() {
  adopt()
  flush()
}

/** Back online: the failures were the network's, so retry now. */
export function online() {
  fails = 0
  resume()
}

/**
 * Consent withdrawn: queued events lose their identifiers (an identify is nothing without its
 * user id: dropped), or all go with consent 'none'.
 */
export function forgetQueue(drop) {
  save(QUEUE)
  pending = drop
    ? []
    : pending.filter((e) => e.event_type != 'identify').map((e) => {
        delete e.session_id
        delete e.user_id
        e.consent = 'denied'
        return e
      })
}
