// Coded errors of inject. `message` is what the user reads: it names the object and what to change.
export type InjectErrorCode =
  | 'ERR_INJECT_SETTING'
  | 'ERR_INJECT_PORT'
  | 'ERR_INJECT_HOOK'
  | 'ERR_INJECT_PLACEMENT'
  | 'ERR_INJECT_FOREIGN'
  | 'ERR_INJECT_INPUT'

export class InjectError extends Error {
  constructor(readonly code: InjectErrorCode, message: string) {
    super(message)
    this.name = 'InjectError'
  }
}
