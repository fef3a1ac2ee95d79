/** The panel's own styles, scoped under .vista3d-panel (the viewer's Tailwind build has only the classes it uses). */
export const PANEL_CSS = `
.vista3d-panel { height: 100%; overflow-y: auto; padding: 8px; color: #d7e3f2; font-size: 13px; line-height: 1.35; box-sizing: border-box; }
.vista3d-panel * { box-sizing: border-box; }
.vista3d-panel h3 { margin: 0 0 6px; font-size: 12px; font-weight: 600; letter-spacing: .04em; text-transform: uppercase; color: #7bb2ce; }
.vista3d-panel .v3d-section { margin-bottom: 12px; padding: 8px; border-radius: 6px; background: #0b1a33; }
.vista3d-panel .v3d-row { display: flex; gap: 6px; align-items: center; }
.vista3d-panel .v3d-wrap { flex-wrap: wrap; margin-bottom: 6px; }
.vista3d-panel .v3d-between { justify-content: space-between; }
.vista3d-panel .v3d-muted { color: #8fa3bd; font-size: 12px; }
.vista3d-panel button { cursor: pointer; border: 1px solid #3a5a85; background: #162c4f; color: #d7e3f2; border-radius: 4px; padding: 3px 8px; font-size: 12px; }
.vista3d-panel button:hover:not(:disabled) { background: #21406f; }
.vista3d-panel button:disabled { opacity: .45; cursor: default; }
.vista3d-panel .v3d-primary { width: 100%; margin-top: 8px; padding: 6px; background: #347ab8; border-color: #5aa0dd; font-weight: 600; font-size: 13px; }
.vista3d-panel .v3d-chip { border-radius: 12px; }
.vista3d-panel .v3d-link { border: none; background: none; color: #5acce6; text-decoration: underline; padding: 0 4px; }
.vista3d-panel .v3d-search, .vista3d-panel select { width: 100%; padding: 4px 6px; border-radius: 4px; border: 1px solid #3a5a85; background: #05101f; color: #d7e3f2; font-size: 12px; }
.vista3d-panel .v3d-list { max-height: 45vh; overflow-y: auto; margin-top: 6px; }
.vista3d-panel .v3d-group-head { display: flex; align-items: center; gap: 4px; }
.vista3d-panel .v3d-group-title { border: none; background: none; padding: 2px 0; text-align: left; flex: 1; font-size: 13px; }
.vista3d-panel ul { list-style: none; margin: 0 0 4px 18px; padding: 0; }
.vista3d-panel li label { display: flex; gap: 6px; align-items: center; padding: 1px 4px; border-radius: 3px; cursor: pointer; }
.vista3d-panel li .v3d-index { margin-left: auto; }
.vista3d-panel li.v3d-selected label { background: #2b5d8f; outline: 1px solid #5acce6; }
.vista3d-panel .v3d-count { margin: 4px 0 6px; }
.vista3d-panel .v3d-field { display: flex; flex-direction: column; gap: 3px; }
.vista3d-panel progress { width: 100%; height: 8px; margin-top: 6px; accent-color: #5acce6; }
.vista3d-panel .v3d-error { margin-bottom: 10px; padding: 6px 8px; border-radius: 4px; background: #4a1620; color: #ffc9cf; border: 1px solid #a33a4a; }
.vista3d-panel .v3d-notice { margin-bottom: 10px; padding: 6px 8px; border-radius: 4px; background: #123a2a; color: #c4f2dc; border: 1px solid #2d8a5e; }
.vista3d-panel .v3d-status { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; }
.vista3d-panel .v3d-status > .v3d-muted { flex-basis: 100%; }
.vista3d-panel .v3d-dot { width: 9px; height: 9px; border-radius: 50%; background: #8fa3bd; }
.vista3d-panel .v3d-dot-ready { background: #35c46a; }
.vista3d-panel .v3d-dot-loading { background: #e0b53a; }
.vista3d-panel .v3d-dot-unreachable { background: #e0493a; }
`;
