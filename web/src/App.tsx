import { useCallback, useEffect, useState } from "react";
import AppLayout from "@cloudscape-design/components/app-layout";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import SideNavigation from "@cloudscape-design/components/side-navigation";
import Spinner from "@cloudscape-design/components/spinner";
import TopNavigation from "@cloudscape-design/components/top-navigation";
import Alert from "@cloudscape-design/components/alert";
import { api, getToken, onUnauthorized, setToken } from "./api";
import { Notifications, NotifyProvider, describeError, useNotifications } from "./components/notify";
import { navigate, useHashRoute } from "./hooks";
import { LoginPage } from "./pages/Login";
import { LivePage } from "./pages/Live";
import { SourcesPage } from "./pages/Sources";
import { WorkflowsPage } from "./pages/Workflows";
import { ModelsPage } from "./pages/Models";
import { HistoryPage } from "./pages/History";
import { HealthPage } from "./pages/Health";

const PAGES: { path: string; title: string }[] = [
  { path: "/live", title: "Live result" },
  { path: "/workflows", title: "Workflows" },
  { path: "/sources", title: "Image sources" },
  { path: "/models", title: "Models" },
  { path: "/history", title: "History" },
  { path: "/health", title: "Application health" },
];

type Session =
  | { kind: "checking" }
  | { kind: "unreachable"; error: string }
  | { kind: "login"; setupRequired: boolean; setupCodeRequired?: boolean }
  | { kind: "ready"; username: string };

function useSession(): [Session, (s: Session) => void, () => void] {
  const [session, setSession] = useState<Session>({ kind: "checking" });
  const check = useCallback(async () => {
    try {
      const { setup_required, setup_code_required } = await api.authStatus();
      if (setup_required) return setSession({ kind: "login", setupRequired: true, setupCodeRequired: Boolean(setup_code_required) });
      if (!getToken()) return setSession({ kind: "login", setupRequired: false });
      const me = await api.me();
      setSession({ kind: "ready", username: me.username });
    } catch (e) {
      if ((e as { status?: number }).status === 401) {
        setToken(null);
        setSession({ kind: "login", setupRequired: false });
      } else {
        setSession({ kind: "unreachable", error: describeError(e) });
      }
    }
  }, []);
  useEffect(() => {
    void check();
  }, [check]);
  useEffect(() => {
    onUnauthorized(() => {
      setToken(null);
      setSession({ kind: "login", setupRequired: false });
    });
    return () => onUnauthorized(null);
  }, []);
  return [session, setSession, () => void check()];
}

function Page({ path, params }: { path: string; params: URLSearchParams }) {
  switch (path) {
    case "/workflows":
      return <WorkflowsPage />;
    case "/sources":
      return <SourcesPage />;
    case "/models":
      return <ModelsPage />;
    case "/history":
      return <HistoryPage initialWorkflow={params.get("workflow") ?? undefined} />;
    case "/health":
      return <HealthPage />;
    default:
      return <LivePage initialWorkflow={params.get("workflow") ?? undefined} />;
  }
}

export function App() {
  const [session, setSession, recheck] = useSession();
  const { path, params } = useHashRoute();
  const { items, notify } = useNotifications();
  const [navOpen, setNavOpen] = useState(true);

  if (session.kind === "checking") {
    return <Box textAlign="center" padding="xxxl"><Spinner size="large" /></Box>;
  }
  if (session.kind === "unreachable") {
    return (
      <Box padding="xxl">
        <Alert type="error" header="The station does not answer" action={<Button onClick={recheck}>Retry</Button>}>
          {session.error}. Check that `dda station serve` is running, then retry.
        </Alert>
      </Box>
    );
  }
  if (session.kind === "login") {
    return <LoginPage setupRequired={session.setupRequired} setupCodeRequired={session.setupCodeRequired} onLoggedIn={(username) => setSession({ kind: "ready", username })} />;
  }

  const active = PAGES.find((p) => p.path === path)?.path ?? "/live";
  const signOut = () => {
    setToken(null);
    setSession({ kind: "login", setupRequired: false });
  };
  return (
    <NotifyProvider notify={notify}>
      <div id="top-nav">
        <TopNavigation
          identity={{ href: "#/live", title: "DDA Station", onFollow: (e) => { e.preventDefault(); navigate("/live"); } }}
          utilities={[
            {
              type: "menu-dropdown",
              text: session.username,
              iconName: "user-profile",
              items: [{ id: "signout", text: "Sign out" }],
              onItemClick: ({ detail }) => { if (detail.id === "signout") signOut(); },
            },
          ]}
        />
      </div>
      <AppLayout
        headerSelector="#top-nav"
        navigationOpen={navOpen}
        onNavigationChange={({ detail }) => setNavOpen(detail.open)}
        toolsHide
        notifications={<Notifications items={items} />}
        navigation={
          <SideNavigation
            header={{ href: "#/live", text: "Station" }}
            activeHref={`#${active}`}
            onFollow={(e) => {
              e.preventDefault();
              navigate(e.detail.href.replace(/^#/, ""));
            }}
            items={PAGES.map((p) => ({ type: "link" as const, text: p.title, href: `#${p.path}` }))}
          />
        }
        content={<Page path={active} params={params} />}
      />
    </NotifyProvider>
  );
}
