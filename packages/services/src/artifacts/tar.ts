// A minimal POSIX tar (ustar + pax) writer: headers only, the caller streams each file's bytes after its header.
// Written here rather than taken from tar-stream, which is only a transitive dependency of the Kubernetes client in
// this tree: its push-based streams need glue to stop reading (and close the file) when a download is cancelled,
// while a header function lets the archive be a plain async generator that the HTTP response pulls from.
// Names longer than 100 bytes or not plain ASCII, and sizes of 8 GiB and more, go in a pax extended header, which GNU
// tar, bsdtar and Python's tarfile all read.

export const TAR_BLOCK = 512;
const MAX_USTAR_SIZE = 0o77777777777;

export interface TTarEntry {
  /** Relative path inside the archive, `/`-separated; folders end with `/`. */
  name: string;
  type: "file" | "directory";
  size: number;
  mode: number;
  mtime: Date;
}

function writeString(block: Buffer, offset: number, length: number, value: string): void {
  block.write(value, offset, length, "utf8");
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  writeString(block, offset, length - 1, Math.floor(value).toString(8).padStart(length - 1, "0"));
  block[offset + length - 1] = 0;
}

function ustarBlock(name: string, typeflag: string, size: number, mode: number, mtime: Date): Buffer {
  const block = Buffer.alloc(TAR_BLOCK);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, Math.min(size, MAX_USTAR_SIZE));
  writeOctal(block, 136, 12, Math.max(0, Math.floor(mtime.getTime() / 1000)));
  block.fill(0x20, 148, 156);
  writeString(block, 156, 1, typeflag);
  writeString(block, 257, 6, "ustar\0");
  writeString(block, 263, 2, "00");
  let sum = 0;
  for (const byte of block) sum += byte;
  writeString(block, 148, 6, sum.toString(8).padStart(6, "0"));
  block[154] = 0;
  block[155] = 0x20;
  return block;
}

/** One pax record: `<length> <key>=<value>\n`, where length counts the whole record including its own digits. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body);
  const digits = String(bodyBytes).length;
  // Adding the digits can carry into one more digit (e.g. 98 + 2 = 100).
  const length = String(bodyBytes + digits).length > digits ? bodyBytes + digits + 1 : bodyBytes + digits;
  return `${length}${body}`;
}

export function padding(size: number): Buffer {
  const rest = size % TAR_BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(TAR_BLOCK - rest);
}

/** The header block(s) of one entry: a pax extended header first when ustar cannot hold the name or the size. */
export function tarHeader(entry: TTarEntry): Buffer {
  const typeflag = entry.type === "directory" ? "5" : "0";
  const size = entry.type === "directory" ? 0 : entry.size;
  const plainName = /^[\x20-\x7e]*$/.test(entry.name) && Buffer.byteLength(entry.name) <= 100;
  const records = [plainName ? "" : paxRecord("path", entry.name), size > MAX_USTAR_SIZE ? paxRecord("size", String(size)) : ""].join("");
  const name = plainName ? entry.name : entry.name.replace(/[^\x20-\x7e]/g, "_").slice(-99);
  const main = ustarBlock(name, typeflag, size, entry.mode, entry.mtime);
  if (!records) return main;
  const data = Buffer.from(records, "utf8");
  const pax = ustarBlock(`PaxHeader/${name}`.slice(0, 99), "x", data.length, 0o644, entry.mtime);
  return Buffer.concat([pax, data, padding(data.length), main]);
}

/** Two zero blocks end an archive. */
export function tarEnd(): Buffer {
  return Buffer.alloc(TAR_BLOCK * 2);
}
