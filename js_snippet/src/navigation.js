// Page views: on load, and on single-page-app navigation (pushState, replaceState, popstate,
// and hashchange when `hash` is set). A navigation that keeps the URL sends nothing.

import { config } from './config.js'
import { ping } from './engagement.js'
import { href, track } from './events.js'
import { guard, on } from './guard.js'

export let page = '' // URL of the current page view; engaged time belongs to it
let key = ''

const keyOf = () => (config.hash ? location.href : location.href.split('#')[0])

function context() {
  let timezone
  try {
    timezone = Intl.DateTimeFormat().resolvedOptions().timeZone
  } catch (e) {}
  const s = window.screen || {}
  return {
    screen_width: s.width,
    screen_height: s.height,
    viewport_width: window.innerWidth,
    viewport_height: window.innerHeight,
    language: navigator.language,
    timezone,
  }
}

export function pageview(props) {
  const previous = page
  if (previous) ping() // engaged time of the page being left
  page = href()
  key = keyOf()
  track(
    'page_view',
    Object.assign(
      {
        referrer: (previous || document.referrer).slice(0, 2048) || undefined,
        title: document.title.slice(0, 512) || undefined,
        context: context(),
      },
      props
    )
  )
}

function changed() {
  if (config.auto && keyOf() != key) pageview()
}

export function hookHistory() {
  const check = guard(changed)
  for (const method of ['pushState', 'replaceState']) {
    const original = history[method]
    history[method] = function () {
      const result = original.apply(this, arguments)
      check()
      return result
    }
  }
  on(window, 'popstate', changed)
  if (config.hash) on(window, 'hashchange', changed)
}
