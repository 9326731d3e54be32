import { randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/**
 * Passwords kept as scrypt hashes in the PHC string format (`$scrypt$ln=15,r=8,p=1$<salt>$<hash>`, base64
 * without padding), so the cost travels with each hash and can be raised for new entries alone.
 */

/** N = 2^15, r = 8: 32 MiB and some tens of milliseconds per check, OWASP's lower bound for scrypt. */
export const DEFAULT_COST = { ln: 15, r: 8, p: 1 }

/** Bounds on what a users file may ask of each check: a bigger cost is a mistake, or an attack on the server's memory. */
const MAX_LN = 20
const MAX_R = 16
const MAX_P = 4
/** scrypt takes 128 * N * r bytes a check, and libuv runs four at once. */
const MAX_MEMORY = 256 * 2 ** 20
const SALT_BYTES = 16
const HASH_BYTES = 32

export interface PasswordHash {
  ln: number
  r: number
  p: number
  salt: Buffer
  hash: Buffer
}

const PHC = /^\$scrypt\$ln=([0-9]{1,2}),r=([0-9]{1,2}),p=([0-9])\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/

/** Reads a PHC scrypt string; throws with what is wrong with it. */
export function parseHash(text: string): PasswordHash {
  const match = PHC.exec(text)
  if (!match) throw new Error('not an scrypt hash ($scrypt$ln=..,r=..,p=..$salt$hash)')
  const [ln, r, p] = [match[1], match[2], match[3]].map(Number)
  if (ln < 1 || ln > MAX_LN || r < 1 || r > MAX_R || p < 1 || p > MAX_P || 128 * 2 ** ln * r > MAX_MEMORY) {
    throw new Error(`scrypt cost out of bounds (ln 1-${MAX_LN}, r 1-${MAX_R}, p 1-${MAX_P}, 128 * 2^ln * r at most ${MAX_MEMORY / 2 ** 20} MiB)`)
  }
  return { ln, r, p, salt: Buffer.from(match[4], 'base64'), hash: Buffer.from(match[5], 'base64') }
}

const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '')

function scryptOptions({ ln, r, p }: Pick<PasswordHash, 'ln' | 'r' | 'p'>): ScryptOptions {
  // Node refuses past maxmem (32 MiB by default), which N = 2^15 with r = 8 just reaches.
  return { N: 2 ** ln, r, p, maxmem: 256 * 2 ** ln * r + (1 << 20) }
}

/** A new entry's hash: a fresh salt, at `cost`. Blocking; for the CLI that writes users files. */
export function hashPassword(password: string, cost = DEFAULT_COST): string {
  const salt = randomBytes(SALT_BYTES)
  const hash = scryptSync(password.normalize('NFC'), salt, HASH_BYTES, scryptOptions(cost))
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${b64(salt)}$${b64(hash)}`
}

/**
 * Whether `password` is the one hashed. On libuv's thread pool, not the I/O thread: a check costs tens
 * of milliseconds, which every session would otherwise wait out.
 */
export function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), stored.salt, stored.hash.length, scryptOptions(stored), (error, derived) => {
      if (error) reject(error)
      else resolve(timingSafeEqual(derived, stored.hash))
    })
  )
}
