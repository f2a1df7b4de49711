import { EventEmitter } from 'node:events'
import { createHash } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { AgentDependencies, DownloadToFileOptions, FileSystem } from '@credo-ts/core'
import { WebSocket } from 'ws'

/**
 * Credo's file system seam, on node:fs. Credo 0.6.3 constructs it but the DIDComm paths never call it;
 * it is still a real implementation, so a module that does use it (e.g. a tails-file download) works.
 */
export class NodeFileSystem implements FileSystem {
  public readonly dataPath: string
  public readonly cachePath: string
  public readonly tempPath: string

  public constructor(baseDir: string = process.env.CREDO_DATA_DIR ?? join(tmpdir(), 'credo')) {
    this.dataPath = join(baseDir, 'data')
    this.cachePath = join(baseDir, 'cache')
    this.tempPath = join(baseDir, 'tmp')
  }

  public async exists(path: string): Promise<boolean> {
    try {
      await fs.access(path)
      return true
    } catch {
      return false
    }
  }

  public async createDirectory(path: string): Promise<void> {
    await fs.mkdir(dirname(path), { recursive: true })
  }

  public async copyFile(sourcePath: string, destinationPath: string): Promise<void> {
    await fs.mkdir(dirname(destinationPath), { recursive: true })
    await fs.copyFile(sourcePath, destinationPath)
  }

  public async write(path: string, data: string): Promise<void> {
    await fs.mkdir(dirname(path), { recursive: true })
    await fs.writeFile(path, data, 'utf8')
  }

  public async read(path: string): Promise<string> {
    return fs.readFile(path, 'utf8')
  }

  public async delete(path: string): Promise<void> {
    await fs.rm(path, { recursive: true, force: true })
  }

  public async downloadToFile(url: string, path: string, options?: DownloadToFileOptions): Promise<void> {
    const response = await fetch(url)
    if (!response.ok) throw new Error(`Download of ${url} failed with HTTP ${response.status}`)
    const data = Buffer.from(await response.arrayBuffer())
    if (options?.verifyHash) {
      const actual = createHash(options.verifyHash.algorithm).update(data).digest()
      if (!actual.equals(Buffer.from(options.verifyHash.hash))) {
        throw new Error(`Hash of the file downloaded from ${url} does not match the expected hash`)
      }
    }
    await fs.mkdir(dirname(path), { recursive: true })
    await fs.writeFile(path, data)
  }
}

/** What Credo needs from the platform, on plain Node 20 (no @credo-ts/node, no Askar). */
export const agentDependencies: AgentDependencies = {
  FileSystem: NodeFileSystem,
  EventEmitterClass: EventEmitter,
  fetch: globalThis.fetch,
  WebSocketClass: WebSocket,
}
