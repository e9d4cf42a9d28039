import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { useSubmit } from "../../components/actions";
import { api } from "../api";

/** Sign in with a portal user name and password (users are created by a PortalAdmin). */
export function LoginPage({ onLoggedIn }: { onLoggedIn: () => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const { busy, failure, setFailure, run } = useSubmit();
  const submit = async () => {
    if (!username.trim() || !password) return setFailure("Enter your user name and password.");
    await run(async () => {
      await api.login(username.trim(), password);
      onLoggedIn();
    });
  };
  return (
    <main className="login-page">
      <div className="login-box">
        <form onSubmit={(e) => { e.preventDefault(); void submit(); }}>
          <Form actions={<Button variant="primary" formAction="submit" loading={busy} data-testid="login-submit">Sign in</Button>}>
            <Container header={<Header variant="h1" description="Defect detection: use cases, devices and deployments">DDA Portal</Header>}>
              <SpaceBetween size="m">
                <FormField label="User name">
                  <Input value={username} onChange={({ detail }) => setUsername(detail.value)} autoComplete="username" ariaLabel="User name" data-testid="login-username" />
                </FormField>
                <FormField label="Password">
                  <Input type="password" value={password} onChange={({ detail }) => setPassword(detail.value)} autoComplete="current-password" ariaLabel="Password" data-testid="login-password" />
                </FormField>
                {failure && <Alert type="error" header="Could not sign in">{failure}</Alert>}
              </SpaceBetween>
            </Container>
          </Form>
        </form>
      </div>
    </main>
  );
}
