// The shipped file: within the size budget, one IIFE, nothing CSP would refuse.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BUDGET, gzipSize } from '../build.mjs'
import { code } from './harness.mjs'

test(`min+gzip size is within the ${BUDGET}-byte budget`, () => {
  const size = gzipSize(code)
  assert.ok(size <= BUDGET, `${size} bytes min+gzip`)
})

test('no eval, no Function constructor, no string timers (CSP without unsafe-eval)', () => {
  assert.doesNotMatch(code, /\beval\(|new Function|Function\(|setTimeout\(["'`]|setInterval\(["'`]/)
})

test('one self-contained IIFE', () => {
  assert.match(code, /^\(\(\)=>\{[\s\S]*\}\)\(\);\n$/)
})
