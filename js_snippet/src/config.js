// Configuration, read once at boot: defaults < <script data-*> attributes < clickloop('init', {...}).

export const config = {
  collector: '', // collector origin; defaults to the origin this script was served from
  api: '', // personalization API origin; defaults to the collector
  denied: 'anonymous', // with consent denied: 'anonymous' (cookieless events, no ids) or 'none'
  dnt: true, // treat Do-Not-Track as consent denied
  gpc: true, // treat Global Privacy Control as consent denied
  hash: false, // a hash change is a page view (hash-routed single-page apps)
  auto: true, // send page_view on load and on history navigation
  ping: 15, // page_ping heartbeat in seconds; 0 = none
  session: 30, // minutes of inactivity that end a session
  delay: 1000, // ms a batch waits for more events before it is sent
  batch: 20, // events per request
  queue: 100, // events kept at most (in memory and in localStorage)
  timeout: 1000, // ms a personalization decision may take before the default content stays
  debug: false, // log every ignored event or failure to the console
}

/** Merge known options; unknown keys are ignored so a typo cannot break the page. */
export function configure(options) {
  for (const key in options) if (key in config) config[key] = options[key]
  config.collector = String(config.collector || '').replace(/\/+$/, '')
  config.api = String(config.api || '').replace(/\/+$/, '')
}

/** `<script data-collector="..." data-ping="0">`: JSON literals (0, false) or strings. */
export function fromDataset(dataset) {
  const options = {}
  for (const key in dataset) {
    try {
      options[key] = JSON.parse(dataset[key])
    } catch (e) {
      options[key] = dataset[key]
    }
  }
  return options
}
