/**
 * The small part of OHIF's and Cornerstone3D's run-time API this extension touches, typed structurally: the
 * prebuilt viewer ships no type packages, and its objects reach the plugin only at run time.
 */
export interface CommandsManager {
  runCommand(commandName: string, options?: Record<string, unknown>, contextName?: string): unknown;
}

export interface ServicesManager {
  // OHIF's services are many and untyped here; each module narrows what it reads.
  services: Record<string, any>;
}

export interface ExtensionParams {
  servicesManager: ServicesManager;
  commandsManager: CommandsManager;
  extensionManager: unknown;
  appConfig?: unknown;
}

/** A Cornerstone3D viewport as the prompt tool sees it (world = patient LPS, mm; canvas = CSS pixels). */
export interface CsViewport {
  id: string;
  worldToCanvas(world: [number, number, number]): [number, number];
  getCamera(): { focalPoint: [number, number, number]; viewPlaneNormal: [number, number, number] };
  getImageData?(): { spacing?: number[] } | undefined;
}

export interface CsEnabledElement {
  viewport: CsViewport;
}

/** The subset of `window.cornerstoneTools` the prompt tool is built from. */
export interface CornerstoneToolsLike {
  BaseTool: new (toolProps: Record<string, unknown>, defaultToolProps: Record<string, unknown>) => object;
  addTool(toolClass: unknown): void;
  drawing: {
    drawCircle(svgDrawingHelper: unknown, annotationUID: string, circleUID: string, center: [number, number], radius: number, options?: Record<string, unknown>): void;
    drawLine(svgDrawingHelper: unknown, annotationUID: string, lineUID: string, start: [number, number], end: [number, number], options?: Record<string, unknown>): void;
  };
  utilities: { triggerAnnotationRenderForViewportIds(viewportIds: string[]): void };
}

declare global {
  interface Window {
    cornerstoneTools?: CornerstoneToolsLike;
  }
}
