/**
 * The flow's stand-in in adapter tests: records every call a transport makes on ChatFlowHandlers,
 * with the bytes of the image it carries (downloaded as the flow would, or the error that gave),
 * and runs what a test scripts for edit requests and button presses.
 */
import type { ChatFlowHandlers, IncomingButton, IncomingEdit, IncomingFile, IncomingMessage } from '../../src/chat/transport.js';

const MIB = 1024 * 1024;

/** What downloading an incoming image gave: its bytes, or the error. */
export interface Downloaded {
  bytes?: Buffer;
  downloadError?: unknown;
}

async function download(image: IncomingFile | undefined): Promise<Downloaded> {
  try {
    return { bytes: await image?.download(10 * MIB) };
  } catch (error) {
    return { downloadError: error };
  }
}

export class RecordingHandlers implements ChatFlowHandlers {
  readonly edits: Array<{ request: IncomingEdit; at: number } & Downloaded> = [];
  readonly messages: Array<{ message: IncomingMessage; at: number } & Downloaded> = [];
  readonly buttons: Array<{ press: IncomingButton; at: number }> = [];
  onEdit: (request: IncomingEdit) => Promise<void> = async () => {};
  onButton: (press: IncomingButton) => Promise<void> = async () => {};

  async editRequest(request: IncomingEdit): Promise<void> {
    const at = Date.now();
    this.edits.push({ request, at, ...(await download(request.image)) });
    await this.onEdit(request);
  }

  async threadMessage(message: IncomingMessage): Promise<void> {
    const at = Date.now();
    this.messages.push({ message, at, ...(await download(message.image)) });
  }

  async buttonPressed(press: IncomingButton): Promise<void> {
    this.buttons.push({ press, at: Date.now() });
    await this.onButton(press);
  }
}
