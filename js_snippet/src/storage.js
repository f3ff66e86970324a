// localStorage that never throws (storage disabled, private mode, quota) and says if it worked.

export const SESSION = 'cl_s'
export const QUEUE = 'cl_q'
export const USER = 'cl_u'

export function load(key) {
  try {
    return localStorage.getItem(key)
  } catch (e) {
    return null
  }
}

/** Store `value`, or remove the key when `value` is null/undefined. */
export function save(key, value) {
  try {
    value == null ? localStorage.removeItem(key) : localStorage.setItem(key, value)
    return true
  } catch (e) {
    return false
  }
}
