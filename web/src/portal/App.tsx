import { useCallback, useEffect, useMemo, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import AppLayout from "@cloudscape-design/components/app-layout";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import SideNavigation from "@cloudscape-design/components/side-navigation";
import Spinner from "@cloudscape-design/components/spinner";
import TopNavigation from "@cloudscape-design/components/top-navigation";
import { Notifications, NotifyProvider, describeError, useNotifications } from "../components/notify";
import { navigate, useHashRoute } from "../hooks";
import { api, getAccessToken, onUnauthorized, setTokens, type Me, type UseCase } from "./api";
import { PortalContext, type PortalState } from "./context";
import { NAV_PAGES } from "./permissions";
import { LoginPage } from "./pages/Login";
import { DashboardPage } from "./pages/Dashboard";
import { UseCasesPage } from "./pages/UseCases";
import { TeamPage } from "./pages/Team";
import { DevicesPage } from "./pages/Devices";
import { DeviceDetail } from "./pages/DeviceDetail";
import { DeploymentsPage } from "./pages/Deployments";
import { DeploymentDetail } from "./pages/DeploymentDetail";
import { AuditPage } from "./pages/Audit";
import { LabelingPage } from "./pages/Labeling";
import { LabelingJobPage } from "./pages/LabelingJob";
import { LabelingToolPage } from "./pages/LabelingTool";
import { DataPage } from "./pages/Data";
import { DatasetsPage } from "./pages/Datasets";
import { DatasetVersionPage } from "./pages/DatasetVersion";
import { SettingsPage } from "./pages/Settings";
import { mlPage } from "./pages/JobsRoutes";

const USECASE_KEY = "dda.portal.usecase";

type Session =
  | { kind: "checking" }
  | { kind: "unreachable"; error: string }
  | { kind: "login" }
  | { kind: "ready"; me: Me; usecases: UseCase[] };

function useSession() {
  const [session, setSession] = useState<Session>({ kind: "checking" });
  const load = useCallback(async () => {
    if (!getAccessToken()) return setSession({ kind: "login" });
    try {
      const [me, usecases] = await Promise.all([api.me(), api.listUseCases()]);
      setSession({ kind: "ready", me, usecases });
    } catch (e) {
      if ((e as { status?: number }).status === 401) {
        setTokens(null);
        setSession({ kind: "login" });
      } else setSession({ kind: "unreachable", error: describeError(e) });
    }
  }, []);
  useEffect(() => {
    void load();
    onUnauthorized(() => {
      setTokens(null);
      setSession({ kind: "login" });
    });
    return () => onUnauthorized(null);
  }, [load]);
  return { session, setSession, load };
}

function Page({ path, params }: { path: string; params: URLSearchParams }) {
  const ml = mlPage(path, params);
  if (ml) return ml;
  const device = /^\/devices\/([^/]+)$/.exec(path);
  if (device) return <DeviceDetail deviceId={decodeURIComponent(device[1])} />;
  const deployment = /^\/deployments\/([^/]+)$/.exec(path);
  if (deployment) return <DeploymentDetail deploymentId={decodeURIComponent(deployment[1])} />;
  const labeling = /^\/labeling\/([^/]+)(?:\/(label|review))?$/.exec(path);
  if (labeling) {
    const jobId = decodeURIComponent(labeling[1]);
    if (labeling[2]) return <LabelingToolPage key={`${jobId}-${labeling[2]}`} jobId={jobId} mode={labeling[2] as "label" | "review"} />;
    return <LabelingJobPage jobId={jobId} />;
  }
  const version = /^\/datasets\/([^/]+)\/versions\/([^/]+)$/.exec(path);
  if (version) return <DatasetVersionPage datasetId={decodeURIComponent(version[1])} versionId={decodeURIComponent(version[2])} />;
  switch (path) {
    case "/data":
      return <DataPage />;
    case "/datasets":
      return <DatasetsPage params={params} />;
    case "/settings":
      return <SettingsPage />;
    case "/labeling":
      return <LabelingPage />;
    case "/usecases":
      return <UseCasesPage />;
    case "/team":
      return <TeamPage />;
    case "/devices":
      return <DevicesPage initialGroup={params.get("group") ?? undefined} />;
    case "/deployments":
      return <DeploymentsPage />;
    case "/audit":
      return <AuditPage />;
    default:
      return <DashboardPage />;
  }
}

export function PortalApp() {
  const { session, setSession, load } = useSession();
  const { path, params } = useHashRoute();
  const { items, notify } = useNotifications();
  const [navOpen, setNavOpen] = useState(true);
  const [usecaseId, setUsecaseIdState] = useState<string | null>(localStorage.getItem(USECASE_KEY));

  const ready = session.kind === "ready" ? session : null;
  // The selected use case must be one the user sees; else the first one.
  const effectiveUsecase = useMemo(() => {
    if (!ready) return null;
    if (usecaseId && ready.usecases.some((u) => u.id === usecaseId)) return usecaseId;
    return ready.usecases[0]?.id ?? null;
  }, [ready, usecaseId]);

  if (session.kind === "checking") return <Box textAlign="center" padding="xxxl"><Spinner size="large" /></Box>;
  if (session.kind === "unreachable") {
    return (
      <Box padding="xxl">
        <Alert type="error" header="The portal does not answer" action={<Button onClick={() => void load()}>Retry</Button>}>
          {session.error}. Check that `dda portal serve` is running, then retry.
        </Alert>
      </Box>
    );
  }
  if (session.kind === "login") return <LoginPage onLoggedIn={() => void load()} />;

  const { me, usecases } = session;
  const setUsecaseId = (id: string | null) => {
    if (id) localStorage.setItem(USECASE_KEY, id);
    else localStorage.removeItem(USECASE_KEY);
    setUsecaseIdState(id);
  };
  const state: PortalState = { me, usecases, usecaseId: effectiveUsecase, setUsecaseId, reloadSession: load };
  const pages = NAV_PAGES.filter((p) => p.visible(me, effectiveUsecase));
  const top = "/" + (path.split("/")[1] ?? "");
  const active = pages.find((p) => p.path === top)?.path ?? "/dashboard";
  const signOut = async () => {
    try {
      await api.logout();
    } catch {
      setTokens(null);
    }
    setSession({ kind: "login" });
  };
  const current = usecases.find((u) => u.id === effectiveUsecase);
  return (
    <PortalContext.Provider value={state}>
      <NotifyProvider notify={notify}>
        <div id="top-nav">
          <TopNavigation
            identity={{ href: "#/dashboard", title: "DDA Portal", onFollow: (e) => { e.preventDefault(); navigate("/dashboard"); } }}
            utilities={[
              {
                type: "menu-dropdown",
                text: current ? `Use case: ${current.name}` : "No use case",
                ariaLabel: "Choose the use case",
                iconName: "folder",
                items: usecases.length
                  ? usecases.map((u) => ({ id: u.id, text: u.name, checked: u.id === effectiveUsecase }))
                  : [{ id: "none", text: "No use case yet", disabled: true }],
                onItemClick: ({ detail }) => setUsecaseId(detail.id),
              },
              {
                type: "menu-dropdown",
                text: me.display_name || me.username,
                ariaLabel: `Signed in as ${me.username}`,
                iconName: "user-profile",
                items: [{ id: "signout", text: "Sign out" }],
                onItemClick: ({ detail }) => { if (detail.id === "signout") void signOut(); },
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
              header={{ href: "#/dashboard", text: "Portal" }}
              activeHref={`#${active}`}
              onFollow={(e) => {
                e.preventDefault();
                navigate(e.detail.href.replace(/^#/, ""));
              }}
              items={pages.map((p) => ({ type: "link" as const, text: p.title, href: `#${p.path}` }))}
            />
          }
          content={pages.some((p) => p.path === top) ? <Page path={path} params={params} /> : <DashboardPage />}
        />
      </NotifyProvider>
    </PortalContext.Provider>
  );
}
