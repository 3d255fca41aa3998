// node ci-compile.js <project path> <output file>: compile a mini program with
// miniprogram-ci (WeChat DevTools' compiler) and write {file: compiled content} as JSON; on a
// compile error print it on stderr and exit 1. A process of its own because miniprogram-ci leaves its compiler
// running. No key and no network are needed to compile: miniprogram-ci insists on a
// private key and asks WeChat for the project's attributes, neither used for compiling, so a
// placeholder and local attributes stand in.
const ci = require('miniprogram-ci')

async function main(projectPath) {
  const project = new ci.Project({
    appid: 'touristappid',
    type: 'miniProgram',
    projectPath,
    privateKey: 'not-used-to-compile',
    attr: async () => ({ platform: false, appType: 0, isSandbox: false, released: false, setting: {} }),
    ignores: ['node_modules/**/*', 'docs/**/*']
  })
  const result = await ci.getCompiledResult({ project, setting: { useProjectConfig: true }, onProgressUpdate: () => {} })
  const files = {}
  for (const [name, content] of Object.entries(result)) files[name] = String(content)
  return files
}

main(process.argv[2]).then(
  (files) => {
    require('node:fs').writeFileSync(process.argv[3], JSON.stringify(files))
    process.exit(0)
  },
  (err) => {
    process.stderr.write('\n' + (err && err.message) + '\n')
    process.exit(1)
  }
)
