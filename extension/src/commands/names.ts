/** The extension's command names: the contract's (models/src/contract/names.ts), shared with the mode. */
export { COMMANDS } from '@vista3d/models';
