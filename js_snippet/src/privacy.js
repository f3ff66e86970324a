// What may be sent and kept: the consent the page reported, Do-Not-Track and Global Privacy
// Control. A denial means no cookies (requests go without credentials) and no identifiers.

import { config } from './config.js'

let consent // 'granted' | 'denied' | undefined (the page never said)

export function setConsent(value) {
  consent = value == 'granted' || value == 'denied' ? value : undefined
}

export function denied() {
  const n = navigator
  return (
    consent == 'denied' ||
    (config.dnt && (n.doNotTrack == '1' || window.doNotTrack == '1')) ||
    (config.gpc && n.globalPrivacyControl === true)
  )
}

/** Denied and configured to send nothing at all. */
export function silent() {
  return denied() && config.denied == 'none'
}

/** The `consent` field: set when the page reported consent or the browser signals a denial. */
export function consentField() {
  return denied() ? 'denied' : consent
}

export function credentials() {
  return denied() ? 'omit' : 'include'
}
