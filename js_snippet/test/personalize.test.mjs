// Personalized slots: the decision API is asked with a timeout; the default stays on timeout or
// error; personalization_shown records the decision; declarative content is sanitised.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Network, openPage } from './harness.mjs'

const decision = { decision_id: 'd-1', slot: 'hero', variant: 'spring', arm: 'bandit', content: { html: '<b>Spring sale</b>' } }
const shown = { decision_id: 'd-1', slot: 'hero', variant: 'spring', arm: 'bandit' }
const init = (options) => [['init', { collector: 'https://c.test', ping: 0, auto: false, ...options }]]
const decided = (page) => page.network.delivered.map((e) => [e.event_type, e.decision])
test('clickloop("personalize", slot, render): render gets the decision, shown is recorded', async () => {
  const page = await openPage({ before: init({}) })
  page.network.decide.hero = decision
  const calls = []
  page.call('personalize', 'hero', (d) => calls.push(d))
  await page.tick(1000)
  assert.deepEqual(calls, [decision])
  const [request] = page.network.requests
  assert.equal(request.url, 'https://c.test/v1/decide?slot=hero')
  assert.equal(request.init.credentials, 'include')
  assert.deepEqual(decided(page), [['personalization_shown', shown]])
})

test('the personalization API can live on its own origin', async () => {
  const page = await openPage({ before: init({ api: 'https://p.test/' }) })
  page.network.decide.hero = { ...decision, url: 'https://p.test/v1/decide?slot=hero' }
  page.call('personalize', 'hero', () => {})
  await page.tick(1000)
  assert.equal(page.network.requests[0].url, 'https://p.test/v1/decide?slot=hero')
  assert.deepEqual(decided(page), [['personalization_shown', shown]])
})

test('render returning false records nothing', async () => {
  const page = await openPage({ before: init({}) })
  page.network.decide.hero = decision
  page.call('personalize', 'hero', () => false)
  await page.tick(1000)
  assert.deepEqual(page.network.delivered, [])
})

for (const [name, answer] of [['network error', 'down'], ['HTTP 500', 500], ['no decision_id', { slot: 'hero' }]]) {
  test(`${name}: render(null) at once, nothing recorded`, async () => {
    const page = await openPage({ before: init({}) })
    page.network.decide.hero = answer
    const calls = []
    page.call('personalize', 'hero', (d) => calls.push(d))
    await page.tick(0)
    assert.deepEqual(calls, [null])
    await page.tick(2000)
    assert.deepEqual(calls, [null])
    assert.deepEqual(page.network.delivered, [])
  })
}

test('timeout: render(null) when it passes; a late answer changes nothing', async () => {
  const page = await openPage({ before: init({ timeout: 300 }) })
  page.network.decide.hero = 'hang'
  const calls = []
  page.call('personalize', 'hero', (d) => calls.push(d))
  await page.tick(299)
  assert.deepEqual(calls, [])
  await page.tick(1)
  assert.deepEqual(calls, [null])
  page.network.hanging.forEach((release) => release())
  await page.tick(2000)
  assert.deepEqual(calls, [null])
  assert.deepEqual(page.network.delivered, [])
})

/** A page whose declarative slot is answered with `answer` (set before the script loads). */
async function slotted(answer, options = {}) {
  const network = new Network()
  network.decide.hero = answer
  return openPage({
    html: '<div id="s" data-cl-slot="hero"><p>Default</p></div>',
    before: init(options),
    network,
  })
}

test('declarative slot: content.html replaces the default, sanitised', async () => {
  const html =
    '<h2 onclick="steal()">Spring sale</h2><script>steal()</script><img src="/x.png" onerror="steal()">' +
    '<a href=" java\tscript:steal()">bad</a><a href="/sale">Shop</a><iframe src="https://evil.test"></iframe>' +
    '<form action="https://evil.test"><input></form><svg><a href="javascript:steal()">s</a></svg>'
  const page = await slotted({ ...decision, content: { html } })
  await page.tick(1000)
  assert.equal(
    page.document.getElementById('s').innerHTML,
    '<h2>Spring sale</h2><img src="/x.png"><a>bad</a><a href="/sale">Shop</a><svg><a>s</a></svg>'
  )
  assert.deepEqual(decided(page), [['personalization_shown', shown]])
})

test('declarative slot: content.text is set as text, never parsed', async () => {
  const page = await slotted({ ...decision, content: { text: '<b>Plain</b>' } })
  await page.tick(1000)
  const slot = page.document.getElementById('s')
  assert.equal(slot.textContent, '<b>Plain</b>')
  assert.equal(slot.children.length, 0)
})

test('declarative slot: a holdout decision keeps the default and is still recorded', async () => {
  const holdout = { decision_id: 'd-2', slot: 'hero', variant: 'default', arm: 'holdout' }
  const page = await slotted(holdout)
  await page.tick(1000)
  assert.equal(page.document.getElementById('s').innerHTML, '<p>Default</p>')
  assert.deepEqual(decided(page), [['personalization_shown', { decision_id: 'd-2', slot: 'hero', variant: 'default', arm: 'holdout' }]])
})

test('declarative slot: content from anywhere but the API origin is refused', async () => {
  const page = await slotted({ url: 'https://evil.test/v1/decide?slot=hero', body: { ...decision, content: { html: 'EVIL' } } })
  await page.tick(1000)
  assert.equal(page.document.getElementById('s').innerHTML, '<p>Default</p>')
  assert.deepEqual(page.network.delivered, [])
})

test('declarative slot: after the timeout the default stays, even when the answer arrives', async () => {
  const page = await slotted('hang', { timeout: 500 })
  await page.tick(500)
  page.network.hanging.forEach((release) => release())
  await page.tick(2000)
  assert.equal(page.document.getElementById('s').innerHTML, '<p>Default</p>')
  assert.deepEqual(page.network.delivered, [])
})

test('a click inside a personalized slot records personalization_click', async () => {
  const page = await slotted(decision)
  await page.tick(0)
  page.click('#s b')
  await page.tick(1000)
  assert.deepEqual(decided(page), [['personalization_shown', shown], ['personalization_click', shown]])
})

test('clickloop("personalize") fills slots added later, each slot once', async () => {
  const page = await slotted(decision)
  await page.tick(0)
  const late = page.document.createElement('div')
  late.setAttribute('data-cl-slot', 'hero')
  page.document.body.append(late)
  page.call('personalize')
  page.call('personalize')
  await page.tick(1000)
  assert.equal(page.network.requests.filter((r) => r.url.includes('/v1/decide')).length, 2)
  assert.equal(late.innerHTML, '<b>Spring sale</b>')
})

test('consent denied: the API is asked without credentials; with denied: none not at all', async () => {
  const anonymous = await slotted(decision, { consent: 'denied' })
  await anonymous.tick(1000)
  assert.equal(anonymous.network.requests[0].init.credentials, 'omit')
  assert.equal(anonymous.document.getElementById('s').innerHTML, '<b>Spring sale</b>')

  const none = await slotted(decision, { consent: 'denied', denied: 'none' })
  await none.tick(1000)
  assert.deepEqual(none.network.requests, [])
  assert.equal(none.document.getElementById('s').innerHTML, '<p>Default</p>')
})

const recommended = { decision_id: 'd-3', slot: 'recommended', variant: 'picks', arm: 'rules', content: { text: 'Picks' } }

test('all of a page’s declarative slots are asked in one request', async () => {
  const network = new Network()
  network.decide.hero = decision
  network.decide.recommended = recommended
  const page = await openPage({
    html: '<div id="s" data-cl-slot="hero">A</div><div id="r" data-cl-slot="recommended">B</div>',
    before: init({}),
    network,
  })
  await page.tick(1000)
  const asked = page.network.requests.filter((r) => r.url.includes('/v1/decide'))
  assert.deepEqual(asked.map((r) => r.url), ['https://c.test/v1/decide?slots=hero,recommended'])
  assert.equal(page.document.getElementById('s').innerHTML, '<b>Spring sale</b>')
  assert.equal(page.document.getElementById('r').textContent, 'Picks')
  assert.deepEqual(decided(page), [
    ['personalization_shown', shown],
    ['personalization_shown', { decision_id: 'd-3', slot: 'recommended', variant: 'picks', arm: 'rules' }],
  ])
})

test('one slot refused (404) keeps every default and records nothing', async () => {
  const network = new Network()
  network.decide.hero = decision
  network.decide.sidebar = 404
  const page = await openPage({
    html: '<div id="s" data-cl-slot="hero">A</div><div id="x" data-cl-slot="sidebar">B</div>',
    before: init({}),
    network,
  })
  await page.tick(1000)
  assert.equal(page.document.getElementById('s').innerHTML, 'A')
  assert.equal(page.document.getElementById('x').innerHTML, 'B')
  assert.deepEqual(page.network.delivered, [])
})

test('a slot the server rendered is recorded from data-cl-decision, not asked again', async () => {
  const attribute = JSON.stringify({ decision_id: 'd-9', slot: 'recommended', variant: 'picks', arm: 'holdout' })
  const page = await openPage({
    html: `<div id="r" data-cl-slot="recommended" data-cl-decision='${attribute}'><a id="a" href="/p/1">P</a></div>` +
      '<div id="bad" data-cl-slot="hero" data-cl-decision="{not json">D</div>',
    before: init({}),
  })
  await page.tick(0)
  page.click('#a')
  await page.tick(1000)
  assert.deepEqual(page.network.requests.filter((r) => r.url.includes('/v1/decide')), [])
  const served = { decision_id: 'd-9', slot: 'recommended', variant: 'picks', arm: 'holdout' }
  assert.deepEqual(decided(page), [['personalization_shown', served], ['personalization_click', served]])
  assert.equal(page.document.getElementById('bad').innerHTML, 'D')
})
