/** `askad operator create|list|password`: dashboard accounts, the password read from a prompt or stdin, never printed. */
import type { ClockDeps } from '../deps'
import { createOwner, listOperators, resetPassword, serializeOperator } from '../modules/operators/service'
import { CliError, table, type Output } from './output'

const ENTER = new Set(['\r', '\n'])
const CTRL_C = '\u0003'
const BACKSPACE = new Set(['\u007f', '\b'])

/** Reads a password: from a prompt that does not echo when stdin is a terminal, else the first line of stdin. */
export async function readPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const text = await Bun.stdin.text()
    return text.split(/\r?\n/)[0] ?? ''
  }
  process.stderr.write(prompt)
  const stdin = process.stdin
  stdin.setRawMode(true)
  stdin.resume()
  stdin.setEncoding('utf8')
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = ''
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ENTER.has(ch)) {
            stdin.off('data', onData)
            return resolve(typed)
          }
          if (ch === CTRL_C) {
            stdin.off('data', onData)
            return reject(new CliError('Cancelled.', 130))
          }
          typed = BACKSPACE.has(ch) ? typed.slice(0, -1) : typed + ch
        }
      }
      stdin.on('data', onData)
    })
  } finally {
    stdin.setRawMode(false)
    stdin.pause()
    process.stderr.write('\n')
  }
}

/** Asks twice on a terminal (a typo there cannot be seen); once from stdin. */
async function newPassword(): Promise<string> {
  const first = await readPassword('Password (at least 10 characters): ')
  if (process.stdin.isTTY && (await readPassword('Again: ')) !== first) throw new CliError('The passwords do not match; nothing was changed.')
  return first
}

/** `askad operator create EMAIL`: an operator who owns every workspace. */
export async function operatorCreate(deps: ClockDeps, out: Output, email: string): Promise<void> {
  const operator = serializeOperator(await createOwner(deps, { email, password: await newPassword() }))
  out.result(operator, () => `Created operator ${operator.email} (${operator.id}), owner of every workspace. Sign in at /dashboard.`)
}

/** `askad operator list`. */
export async function operatorList(deps: ClockDeps, out: Output): Promise<void> {
  const all = (await listOperators(deps)).map(serializeOperator)
  out.result(all, () => table(all, ['email', 'id', 'created_at', 'last_sign_in_at']))
}

/** `askad operator password EMAIL`: sets a new password; the operator's open sessions end. */
export async function operatorPassword(deps: ClockDeps, out: Output, email: string): Promise<void> {
  const operator = serializeOperator(await resetPassword(deps, email, await newPassword()))
  out.result(operator, () => `New password set for ${operator.email}; their dashboard sessions have ended.`)
}
