import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMANDS } from './commands/names.ts';
import { enterMode } from './lifecycle.ts';
import { createStore } from './state/store.ts';

describe('enterMode / exit: the series the active viewport shows is prepared on the server', () => {
  it('asks on entering, on grid changes and once the server is ready; exit unsubscribes', () => {
    const EVENTS = { ACTIVE_VIEWPORT_ID_CHANGED: 'event::active', GRID_STATE_CHANGED: 'event::grid', VIEWPORTS_READY: 'event::ready', LAYOUT_CHANGED: 'event::layout' };
    const listeners = new Map<string, () => void>();
    const viewportGridService = {
      EVENTS,
      subscribe(event: string, cb: () => void) {
        listeners.set(event, cb);
        return { unsubscribe: () => listeners.delete(event) };
      },
    };
    const ran: string[] = [];
    const store = createStore();
    const exit = enterMode({ servicesManager: { services: { viewportGridService } }, commandsManager: { runCommand: (name) => void ran.push(name) }, store });
    const prepares = () => ran.filter((n) => n === COMMANDS.prepareSeries).length;
    assert.equal(prepares(), 1, 'on entering');
    assert.deepEqual([...listeners.keys()].sort(), ['event::active', 'event::grid', 'event::ready']);
    listeners.get('event::grid')!();
    listeners.get('event::active')!();
    assert.equal(prepares(), 3);
    store.set({ server: { status: 'loading' } });
    assert.equal(prepares(), 3);
    store.set({ server: { status: 'ready' } });
    assert.equal(prepares(), 4, 'once ready');
    store.set({ notice: 'x' });
    assert.equal(prepares(), 4, 'not at every change of the store');
    exit();
    assert.equal(listeners.size, 0);
  });
});
