// Real certificates for the TLS tests and bench, made by Debian's openssl in a temporary folder: a CA, and
// certificates it signs for 127.0.0.1 (a server's) or for a client. EC P-256 keys: quick to make.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
/** A key whose signatures cost the server far more than their checks cost a client: a handshake storm's worst case. */
const RSA_4096 = ['-newkey', 'rsa:4096', '-nodes']

export interface Issued {
  cert: string
  key: string
  /** SHA-256 fingerprint as Node prints it (`AB:CD:...`), to tell certificates apart. */
  fingerprint: string
}

export class TestCa {
  private serial = 1

  private constructor(
    readonly dir: string,
    /** The CA's certificate file. */
    readonly ca: string
  ) {}

  static create(): TestCa {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-tls-'))
    const ca = join(dir, 'ca.pem')
    openssl(['req', '-x509', ...KEY, '-keyout', join(dir, 'ca.key'), '-out', ca, '-days', '2', '-subj', '/CN=switchboard test CA'])
    return new TestCa(dir, ca)
  }

  /** A certificate the CA signs: for a server at 127.0.0.1 (and localhost), or for a client named `name`; EC P-256 unless `rsa4096`. */
  issue(name: string, kind: 'server' | 'client', key: 'ec' | 'rsa4096' = 'ec'): Issued {
    const base = join(this.dir, `${name}-${this.serial++}`)
    openssl(['req', ...(key === 'ec' ? KEY : RSA_4096), '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`])
    writeFileSync(`${base}.ext`, kind === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' : 'extendedKeyUsage=clientAuth\n')
    const ca = ['-CA', this.ca, '-CAkey', join(this.dir, 'ca.key'), '-CAcreateserial']
    openssl(['x509', '-req', '-in', `${base}.csr`, ...ca, '-out', `${base}.pem`, '-days', '2', '-extfile', `${base}.ext`])
    const fingerprint = openssl(['x509', '-in', `${base}.pem`, '-noout', '-fingerprint', '-sha256']).trim().split('=')[1]
    return { cert: `${base}.pem`, key: `${base}.key`, fingerprint }
  }

  read(file: string): Buffer {
    return readFileSync(file)
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}
