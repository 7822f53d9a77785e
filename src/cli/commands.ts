/**
 * The commands beside the proxy (login, status, logout, demo, demo-server, doctor, import, migrate-config). main.ts loads this
 * module only when one of them (or --help) is asked for, so a relay started by a host never
 * loads the demo server or the account code.
 */
import type { Argv } from 'yargs';
import { registerLoginCommand } from './login.js';
import { registerAccountCommands } from './account.js';
import { registerDemoCommands } from './demo.js';
import { registerDoctorCommand } from './doctor.js';
import { registerImportCommand } from './import.js';
import { registerMigrateConfigCommand } from './migrate-config.js';

export const SUBCOMMANDS = ['login', 'status', 'logout', 'demo', 'demo-server', 'doctor', 'import', 'migrate-config'];

export function registerCommands(parser: Argv, env: NodeJS.ProcessEnv): void {
  registerLoginCommand(parser, env);
  registerAccountCommands(parser, env);
  registerDemoCommands(parser, env);
  registerDoctorCommand(parser, env);
  registerImportCommand(parser, env);
  registerMigrateConfigCommand(parser);
}
