/**
 * Every chat platform the bot serves. Adding one (Matrix, Telegram…) is a folder under adapters/
 * whose index.ts exports a descriptor (src/chat/platform.ts), and a line here.
 */
import type { AnyPlatform } from '../src/chat/platform.js';
import { discord } from './discord/index.js';
import { slack } from './slack/index.js';

export const PLATFORMS: readonly AnyPlatform[] = [discord, slack];
