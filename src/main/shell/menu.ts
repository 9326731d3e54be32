import type { MenuItemConstructorOptions } from 'electron'

/** What the menu's items do; the shell wires them to the host and its windows. */
export interface MenuActions {
  newClientWindow(): void
  toggleServer(): void
  runLoad(): void
  quit(): void
}

/**
 * The application menu: the commands people expect, with their usual shortcuts. Reload and DevTools are
 * for development only: in a packaged app a reload would drop the control room's state mid-run.
 */
export function menuTemplate(actions: MenuActions, { development, mac }: { development: boolean; mac: boolean }): MenuItemConstructorOptions[] {
  const file: MenuItemConstructorOptions = {
    label: 'File',
    submenu: [
      { label: 'New Client Window', accelerator: 'CmdOrCtrl+N', click: () => actions.newClientWindow() },
      // On macOS Quit (Cmd+Q) is in the app menu.
      ...(mac ? [] : [{ type: 'separator' } as const, { label: 'Quit', accelerator: 'Ctrl+Q', click: () => actions.quit() }])
    ]
  }
  const server: MenuItemConstructorOptions = {
    label: 'Server',
    submenu: [
      { label: 'Start/Stop Server', accelerator: 'CmdOrCtrl+Shift+S', click: () => actions.toggleServer() },
      { label: 'Run Load', accelerator: 'CmdOrCtrl+Shift+L', click: () => actions.runLoad() }
    ]
  }
  const edit: MenuItemConstructorOptions = { role: 'editMenu' }
  const view: MenuItemConstructorOptions = {
    label: 'View',
    submenu: development
      ? [{ role: 'reload' }, { role: 'toggleDevTools' }, { type: 'separator' }, { role: 'togglefullscreen' }]
      : [{ role: 'togglefullscreen' }]
  }
  // Close (Ctrl/Cmd+W) and minimize; on macOS also the app menu (About, Hide, Services).
  const window: MenuItemConstructorOptions = { role: 'windowMenu' }
  return [...(mac ? [{ role: 'appMenu' } as const] : []), file, edit, server, view, window]
}
