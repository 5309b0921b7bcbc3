/** An object or array the scan is inside, with the path of the member being read. */
type Frame = { kind: 'object'; path: string; keys: Set<string>; expectingKey: boolean; lastKey: string } | { kind: 'array'; path: string; index: number };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * Returns the path (`metadata.order`, `lines.0.description`) of the first key
 * that appears twice in one object of a JSON text, or null when there is none.
 * JSON.parse keeps the last of duplicate keys, so a body with `"amount": 100`
 * and `"amount": 10000` would be charged for the second while a log or proxy
 * that reads the first records another request. Keys are compared after their
 * escapes are decoded, so `"a"` and `"\u0061"` are the same key. The scan
 * does not recurse, so any depth is safe. For text that is not valid JSON it
 * may return null, since the parser rejects such text anyway.
 */
export function findDuplicateKey(text: string): string | null {
  const stack: Frame[] = [];
  let position = 0;
  while (position < text.length) {
    const code = text.charCodeAt(position);
    const top = stack.length > 0 ? stack[stack.length - 1] : undefined;

    if (code === QUOTE) {
      const end = endOfString(text, position);
      if (top?.kind === 'object' && top.expectingKey) {
        const key = decodeKey(text.slice(position, end + 1));
        if (key === null) {
          return null;
        }
        if (top.keys.has(key)) {
          return memberPath(top.path, key);
        }
        top.keys.add(key);
        top.lastKey = key;
        top.expectingKey = false;
      }
      position = end + 1;
      continue;
    }

    if (code === OPEN_OBJECT || code === OPEN_ARRAY) {
      const path = top === undefined ? '' : memberPath(top.path, top.kind === 'object' ? top.lastKey : String(top.index));
      stack.push(code === OPEN_OBJECT ? { kind: 'object', path, keys: new Set(), expectingKey: true, lastKey: '' } : { kind: 'array', path, index: 0 });
    } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) {
      stack.pop();
    } else if (code === COMMA && top?.kind === 'object') {
      top.expectingKey = true;
    } else if (code === COMMA && top?.kind === 'array') {
      top.index++;
    }
    position++;
  }

  return null;
}

/** Returns the index of the quote that closes the string opening at `start`, or the text's last index when it never closes. */
function endOfString(text: string, start: number): number {
  let position = start + 1;
  while (position < text.length) {
    const code = text.charCodeAt(position);
    if (code === BACKSLASH) {
      position += 2;
    } else if (code === QUOTE) {
      return position;
    } else {
      position++;
    }
  }

  return text.length - 1;
}

/** Returns the decoded text of a quoted key, or null when the quoted text is not a valid JSON string. */
function decodeKey(quoted: string): string | null {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return null;
  }
}

function memberPath(parent: string, member: string): string {
  return parent === '' ? member : `${parent}.${member}`;
}
