import { Component, createRef, type ReactElement } from 'react';
import { createRoot, type Root } from 'react-dom/client';

/**
 * A React "island" for OHIF 3.13's prebuilt viewer, which does not share its React with plugins: the host
 * renders this class (it extends *our* React.Component, whose elements the host accepts), and the class renders
 * the plugin's tree with the plugin's own react-dom root into its div. Hooks inside `render()` therefore run on
 * the plugin's React. The root is unmounted when the host unmounts the panel (tab switch, mode exit).
 */
export function createIsland(displayName: string, render: () => ReactElement) {
  return class ReactIsland extends Component<Record<string, unknown>> {
    static displayName = displayName;
    private readonly host = createRef<HTMLDivElement>();
    private root: Root | null = null;

    override componentDidMount(): void {
      if (!this.host.current) return;
      this.root = createRoot(this.host.current);
      this.root.render(render());
    }

    override componentDidUpdate(): void {
      this.root?.render(render());
    }

    override componentWillUnmount(): void {
      const root = this.root;
      this.root = null;
      root?.unmount();
    }

    override render() {
      return <div ref={this.host} className="vista3d-island" style={{ height: '100%', minHeight: 0, overflow: 'hidden' }} />;
    }
  };
}
