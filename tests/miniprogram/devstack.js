// Runs the real backend and WeChat simulator (scripts/devstack.py) for the mini program
// tests, on free ports with a throwaway .env, keys and SQLite database.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { describe, test } = require('node:test')
const assert = require('node:assert/strict')

const ROOT = path.resolve(__dirname, '..', '..')
const PYTHON = path.join(ROOT, '.venv', 'bin', 'python')
const SCRIPT = path.join(ROOT, 'scripts', 'devstack.py')
// A fresh dev stack makes keys, migrates and seeds before READY: a few seconds on a quiet
// machine, over 40 s on a loaded one (seen with several suites at once). Waiting longer costs
// nothing when it starts quickly.
const READY_TIMEOUT_MS = 120000

// Why the dev stack cannot run here, or '' when it can.
function missingReason() {
  if (!fs.existsSync(PYTHON)) return 'no Python virtualenv at .venv (see the README to create it)'
  if (!fs.existsSync(SCRIPT)) return 'scripts/devstack.py is missing'
  return ''
}

// describe() for tests that need the dev stack: skipped with the reason on a laptop that
// lacks it, failed in CI (CI=true), where a skip would hide that nothing was tested.
function describeWithDevstack(name, body) {
  const reason = missingReason()
  if (reason && process.env.CI === 'true') {
    test(name + ': dev stack available', () => assert.fail(reason + ' (CI=true: not skipping)'))
    return
  }
  describe(name, { skip: reason || false }, body)
}

// A port nobody listens on (also used as "the server is unreachable").
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

// The KEY=VALUE lines of an env file.
function readEnv(file) {
  const values = {}
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line)
    if (match) values[match[1]] = match[2]
  }
  return values
}

// options.keyMode: the simulated merchant's keys (public-key, certificate, migrating).
async function start(options) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-devstack-'))
  const backendPort = await freePort()
  const sandboxPort = await freePort()
  const databasePath = path.join(dir, 'app.db')
  const keyMode = options && options.keyMode ? ['--key-mode', options.keyMode] : []
  // options.provider: a service provider's deployment with two demo stores (make dev PROVIDER=1).
  if (options && options.provider) keyMode.push('--provider')
  const child = spawn(PYTHON, [
    SCRIPT,
    '--backend-port', String(backendPort),
    '--sandbox-port', String(sandboxPort),
    '--env-file', path.join(dir, '.env'),
    '--keys-dir', path.join(dir, 'keys'),
    '--database-url', 'sqlite:///' + databasePath,
    ...keyMode
  ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })

  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000) // the tail explains a failed start
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))

  const ready = new Promise((resolve, reject) => {
    let stdout = ''
    const timer = setTimeout(() => reject(new Error('devstack printed no READY line in ' + READY_TIMEOUT_MS + ' ms\n' + stderr)), READY_TIMEOUT_MS)
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      const match = /^READY backend=(\S+) sandbox=(\S+)$/m.exec(stdout)
      if (match) {
        clearTimeout(timer)
        resolve({ backend: match[1], sandbox: match[2] })
      }
    })
    exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error('devstack exited (' + (code === null ? signal : code) + ') before READY\n' + stderr))
    })
  })

  let urls
  try {
    urls = await ready
  } catch (err) {
    child.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
    throw err
  }

  async function stop() {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const late = setTimeout(() => child.kill('SIGKILL'), 10000)
      await exited
      clearTimeout(late)
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }

  // Change the backend's data behind its back, as time would (e.g. an order's time_expire
  // passing). SQLite through Python's sqlite3: Node 20 has no SQLite of its own.
  function sql(statement, ...params) {
    const script = 'import json, sqlite3, sys\n' +
      'db = sqlite3.connect(sys.argv[1])\n' +
      'db.execute(sys.argv[2], json.loads(sys.argv[3]))\n' +
      'db.commit()\n'
    const result = spawnSync(PYTHON, ['-c', script, databasePath, statement, JSON.stringify(params)], { encoding: 'utf8' })
    if (result.status !== 0) throw new Error('sql failed: ' + result.stderr)
  }

  // The shop's side: `flask --app server ARGS...` against this stack, as a second terminal
  // under `make dev` would run it (the settings from the stack's .env). -> its output
  function flask(...args) {
    const result = spawnSync(path.join(ROOT, '.venv', 'bin', 'flask'), ['--app', 'server', ...args], {
      cwd: dir,
      encoding: 'utf8',
      env: Object.assign({}, process.env, { PYTHONPATH: ROOT, FLASK_SKIP_DOTENV: '1' })
    })
    if (result.status !== 0) throw new Error('flask ' + args.join(' ') + ' failed: ' + result.stdout + result.stderr)
    return result.stdout
  }

  // env: the settings (and key file paths) the stack runs with, for tests that act as WeChat's
  // merchant themselves (tests/sdk-node).
  return { backend: urls.backend, sandbox: urls.sandbox, env: readEnv(path.join(dir, '.env')), sql, flask, stop }
}

module.exports = {
  describeWithDevstack,
  freePort,
  start
}
