// Builds dist/clickloop.min.js (served by the collector at GET /v1/clickloop.js), prints its
// min+gzip size and fails when it is over the 4 KB budget. `bundle()` is shared with the unit
// tests so they exercise exactly the code we ship.
//
// esbuild bundles the modules into one IIFE; terser (two compress passes, top-level mangling)
// minifies it about 1.5 % smaller than esbuild's own minifier, which matters at this budget.

import { build } from 'esbuild'
import { minify as terser } from 'terser'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

export const BUDGET = 4096 // bytes, min+gzip
const root = dirname(fileURLToPath(import.meta.url))

export async function bundle({ minify = true } = {}) {
  const result = await build({
    entryPoints: [join(root, 'src/index.js')],
    bundle: true,
    format: 'iife',
    target: 'es2017',
    legalComments: 'none',
    write: false,
  })
  const code = result.outputFiles[0].text
  if (!minify) return code
  const minified = await terser(code, {
    ecma: 2017,
    toplevel: true,
    compress: { passes: 2 },
    mangle: true,
    format: { comments: false },
  })
  return minified.code + '\n'
}

export const gzipSize = (code) => gzipSync(code, { level: 9 }).length

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const code = await bundle()
  const out = join(root, 'dist/clickloop.min.js')
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, code)
  const size = gzipSize(code)
  console.log(`${out}: ${code.length} bytes min, ${size} bytes min+gzip (budget ${BUDGET})`)
  if (size > BUDGET) {
    console.error(`clickloop.min.js is ${size - BUDGET} bytes over the ${BUDGET}-byte min+gzip budget`)
    process.exit(1)
  }
}
