/** SMTP submission like smtp.office365.com. (Scaffold: being implemented.) */
import type { EmulatorContext } from '../context.js';

export interface SmtpListener {
  port: number;
  stop(): Promise<void>;
}

export async function startSmtpService(
  _ctx: EmulatorContext,
  options: { host: string; port: number; key: string; cert: string },
): Promise<SmtpListener> {
  return { port: options.port, stop: async () => {} };
}
