// Identifiers the snippet owns: event ids, the session id (30-minute sliding expiry, shared by
// the site's tabs through localStorage) and the user id from identify. The visitor id is the
// collector's `cl_vid` cookie, which the browser sends with every request; the snippet never
// reads or writes it.

import { config } from './config.js'
import { load, save, SESSION, USER } from './storage.js'

let session = '' // "id|last activity ms", kept in memory too in case storage is unavailable
let user = load(USER) || undefined

export function uuid() {
  const c = window.crypto
  if (c && c.randomUUID) return c.randomUUID()
  const random = () => (c && c.getRandomValues ? c.getRandomValues(new Uint8Array(1))[0] : Math.random() * 256)
  return '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (d) => (d ^ (random() & (15 >> (d / 4)))).toString(16))
}

/** The current session id at `now`; a new one after `config.session` idle minutes. */
export function sessionId(now) {
  const [id, seen] = (load(SESSION) || session).split('|')
  const current = id && now - seen < config.session * 6e4 ? id : uuid()
  session = current + '|' + now
  save(SESSION, session)
  return current
}

export function userId() {
  return user
}

/** Remember the user id (null/'' forgets it); returns it. */
export function setUser(id, keep) {
  user = id == null || id === '' ? undefined : String(id).slice(0, 128)
  if (keep) save(USER, user)
  return user
}

/** Consent withdrawn: drop every identifier we hold. */
export function forgetIdentity() {
  session = ''
  user = undefined
  save(SESSION)
  save(USER)
}
