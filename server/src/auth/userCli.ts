/**
 * `npm run user -- add NAME`: prints the USERS_FILE line for a viewer user. The password is read from standard
 * input (one line; `VISTA3D_PASSWORD` when set), never from the command line, where other users could see it.
 *   printf '%s\n' 'a long passphrase' | npm run -s user -- add alice >> users.txt
 */
import { createInterface } from 'node:readline';
import { runIfMain } from '@vista3d/models/node';
import { hashUserLine } from './users.ts';

async function readPassword(): Promise<string> {
  if (process.env.VISTA3D_PASSWORD) return process.env.VISTA3D_PASSWORD;
  if (process.stdin.isTTY) process.stderr.write('password: ');
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return '';
}

export async function main(argv: string[]): Promise<number> {
  const [verb, name] = argv;
  if (verb !== 'add' || !name) {
    process.stderr.write('usage: npm run user -- add NAME   (the password on standard input; prints the USERS_FILE line)\n');
    return 2;
  }
  try {
    process.stdout.write(`${await hashUserLine(name, await readPassword())}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 1;
  }
}

runIfMain(import.meta.url, main);
