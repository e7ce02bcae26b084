from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from mastra.core.ee.models import EEUser
from mastra.core.server import CurrentUser, OptionalUser, mount_ee, require_permission

app = FastAPI(title="My agents")
# The host's own CORS: mount_ee answers CORS only under /api, and never doubles this header.
app.add_middleware(
    CORSMiddleware,
    allow_origins=["http://localhost:5173"],
    allow_credentials=True,
    allow_methods=["*"],
    allow_headers=["*"],
)
mount_ee(app)  # /api/auth/..., /api/audit/..., the auth middleware, cleanup on shutdown


@app.get("/me")
async def me(user: CurrentUser) -> dict[str, str]:  # 401 without a signed-in user
    return {"id": user.id, "email": user.email or ""}


@app.get("/")
async def home(user: OptionalUser) -> dict[str, str]:  # None when nobody is signed in
    return {"hello": user.name if user and user.name else "stranger"}


@app.post("/agents/{agent_id}/run")
async def run(agent_id: str, user: EEUser = Depends(require_permission("agents:execute"))) -> dict[str, str]:
    return {"agent": agent_id, "by": user.id}  # 401 anonymous, 403 without agents:execute
