/** Which page each route shows. */
import type { Route } from '../router.js';
import { Page } from '../components/Page.js';
import { AlertsPage } from './alerts.js';
import { AuditPage } from './audit.js';
import { AdminPage } from './admin.js';
import { AuthzPage } from './authz.js';
import { CamerasPage } from './cameras.js';
import { ClipPage } from './clip.js';
import { ClipsPage } from './clips.js';
import { DevicePage } from './device.js';
import { FleetPage } from './fleet.js';
import { OverviewPage } from './overview.js';
import { RecordsPage } from './records.js';
import { ReviewPage } from './review.js';

export function PageFor({ route }: { route: Route }) {
  switch (route.page) {
    case 'overview':
      return <OverviewPage />;
    case 'fleet':
      return <FleetPage />;
    case 'cameras':
      return <CamerasPage />;
    case 'device':
      return <DevicePage key={route.id} deviceId={route.id} />;
    case 'alerts':
      return <AlertsPage />;
    case 'clips':
      return <ClipsPage />;
    case 'clip':
      return <ClipPage key={route.hash} manifestHash={route.hash} />;
    case 'authz':
      return <AuthzPage />;
    case 'records':
      return <RecordsPage />;
    case 'audit':
      return <AuditPage />;
    case 'review':
      return <ReviewPage id={null} />;
    case 'review-item':
      return <ReviewPage key={route.id} id={route.id} />;
    case 'admin':
      return <AdminPage />;
    case 'not-found':
      return (
        <Page title="Page not found">
          <p>
            There is no page at <code>#{route.path}</code>. Choose a page from the navigation above, or go to the <a href="#/overview">start page</a>.
          </p>
        </Page>
      );
  }
}
