// Which nodes.toml a client uses, from any directory: --config, then $KV_CONFIG, then ./nodes.toml,
// then the one beside the package (the repo's own, so `kvc` works from anywhere in a checkout).
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../io/config.js';

export const packageConfigPath = resolve(dirname(fileURLToPath(import.meta.url)), '../../nodes.toml');

/** An explicit path or $KV_CONFIG is used as given (a missing file is the loader's error); the rest only if they exist. */
export function findConfigPath(explicit?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (explicit !== undefined && explicit !== '') return resolve(cwd, explicit);
  if (env.KV_CONFIG !== undefined && env.KV_CONFIG !== '') return resolve(cwd, env.KV_CONFIG);
  const here = resolve(cwd, 'nodes.toml');
  if (existsSync(here)) return here;
  if (existsSync(packageConfigPath)) return packageConfigPath;
  throw new ConfigError(`no cluster config: give --config FILE or KV_CONFIG=FILE (looked for ${here} and ${packageConfigPath})`);
}
