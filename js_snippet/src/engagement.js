// page_ping heartbeats that count engaged time: time the page is visible and the visitor was
// active (pointer, keys, scroll, touch) within the last IDLE ms. The counting is exact and
// event-driven, no per-second timer: each activity opens a window of IDLE ms, clipped to the
// time the page was visible.

import { config } from './config.js'
import { track } from './events.js'
import { guard, on } from './guard.js'
import { page } from './navigation.js'

const IDLE = 15e3
const visibleNow = () => !document.hidden

let engaged = 0 // ms not yet reported
let since = Date.now() // engaged time is counted up to here
let active = since // last activity; page load counts as activity
let visible = visibleNow()

function account(t) {
  if (visible) engaged += Math.max(0, Math.min(t, active + IDLE) - since)
  since = t
}

function activity() {
  const t = Date.now()
  account(t)
  active = t
}

/** Report engaged time since the last ping; under a second it waits for the next one. */
export function ping() {
  account(Date.now())
  if (config.ping && engaged >= 1e3 && page) {
    track('page_ping', { url: page, engaged_ms: Math.min(Math.round(engaged), 36e5) })
    engaged = 0
  }
}

export function visibility() {
  const t = Date.now()
  account(t)
  visible = visibleNow()
  if (visible) active = t
  else ping()
}

export function watchEngagement() {
  for (const type of ['mousemove', 'mousedown', 'keydown', 'scroll', 'touchstart']) {
    on(document, type, activity, { capture: true, passive: true })
  }
  if (config.ping > 0) setInterval(guard(ping), config.ping * 1e3)
}
