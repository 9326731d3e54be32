import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { getApi } from './api'
import { App } from './App'
import { AppProvider } from './context'
import { bridgeApiToStore, createAppStore } from './store'
import './styles.css'

const store = createAppStore()
const api = getApi(store.getState().setHostLost)
bridgeApiToStore(api, store)

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <AppProvider api={api} store={store}>
      <App view={location.hash === '#client' ? 'client' : 'panel'} />
    </AppProvider>
  </StrictMode>
)
