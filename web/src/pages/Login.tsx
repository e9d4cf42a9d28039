import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { api, setToken } from "../api";
import { useSubmit } from "../components/actions";

type Props = { setupRequired: boolean; setupCodeRequired?: boolean; onLoggedIn: (username: string) => void };

const MIN_PASSWORD = 8;

/** Sign-in, or on first run the "Create admin" form (then signs straight in). */
export function LoginPage({ setupRequired, setupCodeRequired = false, onLoggedIn }: Props) {
  const [setupCode, setSetupCode] = useState("");
  const [username, setUsername] = useState(setupRequired ? "admin" : "");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const { busy, failure, setFailure, run } = useSubmit();

  const validation = (): string | null => {
    if (!username.trim()) return "Enter a user name.";
    if (!password) return "Enter a password.";
    if (setupRequired && password.length < MIN_PASSWORD) return `Use at least ${MIN_PASSWORD} characters for the password.`;
    if (setupRequired && password !== confirm) return "The two passwords differ; type the same password twice.";
    return null;
  };

  const submit = async () => {
    const problem = validation();
    if (problem) {
      setFailure(problem);
      return;
    }
    await run(async () => {
      if (setupRequired) await api.setup(username.trim(), password, setupCodeRequired ? setupCode.trim() : undefined);
      const { access_token } = await api.login(username.trim(), password);
      setToken(access_token);
      onLoggedIn(username.trim());
    });
  };

  return (
    <div className="login-page">
      <div className="login-box">
        <form onSubmit={(e) => { e.preventDefault(); void submit(); }}>
          <Form
            actions={
              <Button variant="primary" formAction="submit" loading={busy} data-testid="login-submit">
                {setupRequired ? "Create admin and sign in" : "Sign in"}
              </Button>
            }
          >
            <Container
              header={
                <Header
                  variant="h1"
                  description={setupRequired ? "First run: create the administrator account for this station." : "Sign in to operate this station."}
                >
                  {setupRequired ? "Create admin" : "DDA Station"}
                </Header>
              }
            >
              <SpaceBetween size="m">
                {failure && <Alert type="error">{failure}</Alert>}
                <FormField label="User name" controlId="login-username">
                  <Input controlId="login-username" value={username} autoComplete="username" onChange={({ detail }) => setUsername(detail.value)} />
                </FormField>
                <FormField label="Password" controlId="login-password" constraintText={setupRequired ? `At least ${MIN_PASSWORD} characters.` : undefined}>
                  <Input
                    controlId="login-password"
                    type="password"
                    value={password}
                    autoComplete={setupRequired ? "new-password" : "current-password"}
                    onChange={({ detail }) => setPassword(detail.value)}
                  />
                </FormField>
                {setupRequired && (
                  <FormField label="Confirm password" controlId="login-confirm">
                    <Input controlId="login-confirm" type="password" value={confirm} autoComplete="new-password" onChange={({ detail }) => setConfirm(detail.value)} />
                  </FormField>
                )}
                {setupRequired && setupCodeRequired && (
                  <FormField
                    label="Setup code"
                    controlId="login-setup-code"
                    description="You are not on the station itself: enter the one-time code printed on the station's console when it started."
                  >
                    <Input controlId="login-setup-code" value={setupCode} autoComplete="off" onChange={({ detail }) => setSetupCode(detail.value)} />
                  </FormField>
                )}
              </SpaceBetween>
            </Container>
          </Form>
        </form>
        <Box textAlign="center" color="text-body-secondary" margin={{ top: "m" }} fontSize="body-s">
          Defect Detection Application — edge station
        </Box>
      </div>
    </div>
  );
}
