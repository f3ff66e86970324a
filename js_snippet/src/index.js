// Entry point. Replaces the loader stub `clickloop`, applies the calls queued before the script
// loaded, and starts automatic tracking. The only global is `clickloop`.
//
// Replay order: settings first (init and consent, in their order), then the automatic
// page_view, then every other queued call in its order, so a consent call made before load
// governs the first page view.

import { configure, config, fromDataset } from './config.js'
import { guard, ignore, on } from './guard.js'
import { forgetIdentity, setUser } from './identity.js'
import { denied, setConsent, silent } from './privacy.js'
import { track } from './events.js'
import { adopt, flush, forgetQueue, hide, leave, online, resume } from './transport.js'
import { QUEUE } from './storage.js'
import { hookHistory, pageview } from './navigation.js'
import { ping, visibility, watchEngagement } from './engagement.js'
import { click } from './clicks.js'
import { decide, slots } from './personalize.js'

function consent(value) {
  setConsent(value)
  if (denied()) {
    forgetIdentity()
    forgetQueue(silent())
  }
}

const commands = {
  init(options) {
    configure(options || {})
    if (options && options.consent) consent(options.consent)
  },
  consent,
  track: (type, props) => (type == 'page_view' ? pageview(props) : track(type, props)),
  identify(id) {
    if (denied()) return ignore('denied', 'identify')
    const user = setUser(id, true)
    if (user) track('identify', user)
  },
  personalize: (slot, render) => (slot ? decide(slot, render) : slots()),
  flush,
}

function run(args) {
  const command = commands[args[0]]
  command ? command.apply(null, [].slice.call(args, 1)) : ignore('command', args[0])
}

function boot(queue, script) {
  if (script && script.src) commands.init(Object.assign({ collector: new URL(script.src).origin }, fromDataset(script.dataset)))
  const later = []
  for (const args of queue) args[0] == 'init' || args[0] == 'consent' ? guard(run)(args) : later.push(args)
  adopt()
  on(document, 'visibilitychange', () => {
    visibility()
    document.hidden ? hide() : resume()
  })
  on(window, 'pagehide', () => {
    ping()
    leave(true)
  })
  on(window, 'pageshow', () => leave(false)) // back from the back/forward cache
  on(window, 'online', online)
  on(window, 'storage', (e) => e.key == QUEUE && e.newValue && resume())
  on(document, 'click', click, true)
  on(document, 'auxclick', click, true)
  hookHistory()
  watchEngagement()
  if (config.auto) pageview()
  if (document.readyState == 'loading') on(document, 'DOMContentLoaded', slots)
  else slots()
  for (const args of later) guard(run)(args)
  // The first batch goes at once: on a visitor's first page its answer sets the cl_vid cookie,
  // which every later request (and the next page) must carry to count as the same visitor.
  flush()
}

const stub = window.clickloop
if (!(stub && stub.loaded)) {
  const api = guard(function () {
    run(arguments)
  })
  api.loaded = true
  window.clickloop = api
  guard(boot)((stub && stub.q) || [], document.currentScript)
}
