/** One-line, secret-free descriptions of changes (for messages, the run log and the report). */
import { octal } from './apply.js';
import type { Change } from './types.js';

export function describeChange(c: Change): string {
  switch (c.kind) {
    case 'file': {
      const own = c.owner || c.group ? ` ${c.owner ?? ''}${c.group ? `:${c.group}` : ''}` : '';
      const what = c.action === 'chmod' ? 'set mode/owner of' : c.action === 'create' ? 'create' : 'update';
      return `${what} file ${c.path} (${octal(c.mode)}${own})${c.secret ? ' [secret]' : ''}`;
    }
    case 'mkdir':
      return `create directory ${c.path} (${octal(c.mode)})`;
    case 'delete':
      return `delete ${c.path}${c.recursive ? ' (recursive)' : ''}`;
    case 'command':
      return `run: ${c.title}`;
    case 'script':
      return `run script: ${c.title}`;
    case 'service':
      return c.action === 'daemon-reload' ? 'systemctl daemon-reload' : `${c.action} service ${c.unit}`;
    case 'action':
      return c.title;
  }
}
